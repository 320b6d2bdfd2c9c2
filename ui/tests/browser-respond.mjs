// The incidents page in Chromium: enter the responder token, acknowledge
// the alert group in one click from the alerts page, open the open
// incident, approve its pending runbook execution, see it move on. Any
// console error fails the run; screenshots go to OUTDIR.
// Usage: node tests/browser-respond.mjs BASE_URL OUTDIR TOKEN
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, outdir, token] = process.argv.slice(2);
mkdirSync(outdir, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' })).newPage();
const problems = [];
page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
const T = { timeout: 20000 };
try {
  await page.goto(`${base}/incidents`);
  await page.locator('[data-testid=responder-token]').fill(token);
  await page.locator('[data-testid=responder-token]').press('Tab');
  await page.goto(`${base}/alerts`);
  await page.locator('[data-testid=ack-group]').first().click();
  await page.locator('[data-testid=group-acked]').first().waitFor(T);
  await page.screenshot({ path: join(outdir, 'respond-0-acked-from-alerts.png'), fullPage: true });
  await page.goto(`${base}/incidents`);
  await page.locator('[data-testid=incident-row] a').first().click();
  await page.locator('[data-testid=execution][data-state=awaiting_approval]').waitFor(T);
  await page.screenshot({ path: join(outdir, 'respond-1-pending.png'), fullPage: true });
  await page.locator('[data-testid=approve]').click();
  await page.locator('[data-testid=execution]:not([data-state=awaiting_approval])').first().waitFor(T);
  await page.waitForFunction(() => document.body.textContent.includes('Approved by api-token'), null, T);
  await page.screenshot({ path: join(outdir, 'respond-2-approved.png'), fullPage: true });
  if ((await page.locator('[data-testid=timeline] tr').count()) < 1) problems.push('the incident has no timeline');
} catch (e) {
  problems.push(String(e.message ?? e).split('\n')[0]);
  await page.screenshot({ path: join(outdir, 'respond-failed.png'), fullPage: true }).catch(() => {});
}
await browser.close();
writeFileSync(join(outdir, 'respond-summary.json'), JSON.stringify({ problems }, null, 2));
console.log(JSON.stringify({ problems }));
process.exit(problems.length ? 1 : 0);
