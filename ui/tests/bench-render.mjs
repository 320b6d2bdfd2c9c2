// Time to first render of a dashboard: a cold browser context per run,
// clock from navigation start to every panel drawn. Used by
// scripts/bench_ui.py. Usage: node tests/bench-render.mjs BASE_URL REPEATS
import { chromium } from 'playwright-core';

const [base, repeats = '5'] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
for (let i = 0; i < Number(repeats); i++) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(`${base}/d/bench-30`);
  await page.waitForFunction(() => {
    const ps = [...document.querySelectorAll('[data-testid=panel]')];
    return ps.length === 30 && ps.every((p) => p.dataset.loaded === 'true');
  }, null, { timeout: 60000, polling: 10 });
  const ms = Date.now() - started;
  const stats = await page.evaluate(() => ({
    panels: document.querySelectorAll('[data-testid=panel]').length,
    errors: document.querySelectorAll('[data-panel-error]').length,
    withData: [...document.querySelectorAll('[data-testid=panel]')].filter((p) => !p.querySelector('.no-data')).length,
    navigationMs: performance.getEntriesByType('navigation')[0]?.duration ?? null,
  }));
  console.log(JSON.stringify({ run: i, ms, ...stats }));
  await context.close();
}
await browser.close();
