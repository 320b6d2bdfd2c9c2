// Time to first render of a dashboard: a cold browser context per run;
// the clock is the page's own (performance.now(), from navigation start)
// at the moment every panel has its data and every chart is drawn, seen
// by a MutationObserver installed before the page's scripts run (no
// polling from outside that would compete for the CPU). Used by
// scripts/bench_ui.py. Usage: node tests/bench-render.mjs BASE_URL REPEATS
import { chromium } from 'playwright-core';

const [base, repeats = '5'] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });

function watch() {
  const drawn = (p) => p.dataset.loaded === 'true' && [...p.querySelectorAll('[data-testid=chart]')].every((c) => c.dataset.drawn === 'true');
  const done = () => {
    const ps = [...document.querySelectorAll('[data-testid=panel]')];
    if (ps.length !== 30) return false;
    // Also noted: when the first screen (every panel that starts within
    // the viewport) is complete.
    if (window.__viewport == null && ps.filter((p) => p.getBoundingClientRect().top < innerHeight).every(drawn)) window.__viewport = performance.now();
    return ps.every(drawn);
  };
  window.__rendered = new Promise((resolve) => {
    const start = () => {
      const mo = new MutationObserver(() => {
        if (done()) {
          mo.disconnect();
          resolve(performance.now());
        }
      });
      mo.observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-loaded', 'data-drawn'] });
    };
    if (document.documentElement) start();
    else document.addEventListener('readystatechange', start, { once: true });
  });
}

for (let i = 0; i < Number(repeats); i++) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  await context.addInitScript(watch);
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(`${base}/d/bench-30`);
  const rendered = await page.evaluate(() => Promise.race([window.__rendered, new Promise((r) => setTimeout(() => r(null), 60000))]));
  const wall = Date.now() - started;
  if (rendered == null) throw new Error('the dashboard did not finish rendering within 60 s');
  const stats = await page.evaluate(() => {
    const qs = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/query'));
    return {
      panels: document.querySelectorAll('[data-testid=panel]').length,
      viewportMs: Math.round(window.__viewport),
      viewportPanels: [...document.querySelectorAll('[data-testid=panel]')].filter((p) => p.getBoundingClientRect().top < innerHeight).length,
      errors: document.querySelectorAll('[data-panel-error]').length,
      withData: [...document.querySelectorAll('[data-testid=panel]')].filter((p) => !p.querySelector('.no-data')).length,
      // Where the time went, in ms since navigation start: the first query
      // sent, the last query answered, and the slowest single answer.
      queries: qs.length,
      firstQuerySent: Math.round(Math.min(...qs.map((e) => e.startTime))),
      lastAnswer: Math.round(Math.max(...qs.map((e) => e.responseEnd))),
      slowestQuery: Math.round(Math.max(...qs.map((e) => e.responseEnd - e.startTime))),
    };
  });
  console.log(JSON.stringify({ run: i, ms: Math.round(rendered), wallMs: wall, ...stats }));
  await context.close();
}
await browser.close();
