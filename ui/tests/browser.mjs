// Drives Debian's Chromium (headless, through playwright-core) against a
// running Bongsu: loads every page, runs a query and checks a series is
// drawn, completes a metric name, silences an alert from the alerts page
// and edits that silence, renders every dashboard, changes a variable,
// imports a dashboard (then a second version, diffs the two, exports it),
// switches language and theme, and reaches the navigation by keyboard.
// Any console error or page error fails the run. Screenshots go to OUTDIR.
//
// Usage: node tests/browser.mjs BASE_URL OUTDIR
// Env:   CHROMIUM (default /usr/bin/chromium)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, outdir] = process.argv.slice(2);
if (!base || !outdir) {
  console.error('usage: node tests/browser.mjs BASE_URL OUTDIR');
  process.exit(2);
}
mkdirSync(outdir, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
const page = await context.newPage();
const problems = [];
const steps = [];
// A step may expect one kind of console error (the browser logs a 400 from
// an intentionally bad query); anything else fails the run.
let expectedConsoleError = null;
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  if (expectedConsoleError && expectedConsoleError.test(m.text())) return;
  problems.push(`console error: ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    steps.push({ name, ok: true, ms: Date.now() - started });
  } catch (e) {
    steps.push({ name, ok: false, ms: Date.now() - started, error: String(e.message ?? e).split('\n')[0] });
    problems.push(`${name}: ${String(e.message ?? e).split('\n')[0]}`);
  }
  await page.screenshot({ path: join(outdir, `${steps.length.toString().padStart(2, '0')}-${name}.png`), fullPage: true }).catch(() => {});
}

const T = { timeout: 15000 };

await step('targets', async () => {
  await page.goto(`${base}/targets`);
  await page.locator('[data-testid=target][data-health=up]').first().waitFor(T);
});

await step('explore-completion', async () => {
  await page.goto(`${base}/graph?range=5m`);
  const ed = page.locator('[data-testid=expr]');
  await ed.click();
  await ed.pressSequentially('demo_te');
  await page.locator('[data-testid=completions] li', { hasText: 'demo_temperature' }).first().waitFor(T);
  await ed.press('Tab');
  const v = await ed.inputValue();
  if (v !== 'demo_temperature') throw new Error(`completion gave ${JSON.stringify(v)}`);
});

await step('explore-graph', async () => {
  await page.locator('[data-testid=run]').click();
  const chart = page.locator('[data-testid=chart]');
  await chart.waitFor(T);
  const n = Number(await chart.getAttribute('data-series'));
  if (!(n >= 1)) throw new Error(`chart has ${n} series`);
  // uPlot drew the first series: pixels in its colour (#3b82f6) on the canvas.
  const painted = await page.evaluate(() => {
    const c = document.querySelector('[data-testid=chart] canvas');
    if (!c) return 0;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - 59) < 24 && Math.abs(d[i + 1] - 130) < 24 && Math.abs(d[i + 2] - 246) < 24 && d[i + 3] > 128) n++;
    }
    return n;
  });
  if (painted < 20) throw new Error(`the first series is not drawn: ${painted} pixels of its colour`);
  if (!page.url().includes('expr=demo_temperature')) throw new Error(`URL does not hold the query: ${page.url()}`);
});

await step('explore-table', async () => {
  await page.getByRole('tab', { name: 'Table' }).click();
  await page.locator('[data-testid=result-table] tr').first().waitFor(T);
});

await step('explore-error', async () => {
  expectedConsoleError = /status of 400/;
  const ed = page.locator('[data-testid=expr]');
  await ed.fill('sum(');
  await page.locator('[data-testid=run]').click();
  const err = page.locator('[data-testid=query-error]');
  await err.waitFor(T);
  const text = await err.textContent();
  if (!/unclosed|unexpected|parse error/i.test(text)) throw new Error(`error text: ${text}`);
  await page.waitForTimeout(200);
  expectedConsoleError = null;
});

await step('alerts-silence', async () => {
  await page.goto(`${base}/alerts`);
  const alert = page.locator('[data-testid=alert]', { hasText: 'DemoHot' }).first();
  await alert.waitFor(T);
  await alert.locator('[data-testid=silence-alert]').click();
  await page.locator('[data-testid=silence-form]').waitFor(T);
  const m = await page.locator('[data-testid=silence-matchers]').inputValue();
  if (!m.includes('alertname="DemoHot"')) throw new Error(`matchers not prefilled: ${m}`);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=silence-preview-count]')?.textContent) >= 1, null, T);
  await page.locator('[data-testid=silence-create]').click();
  await page.locator('[data-testid=silence][data-state=active]').first().waitFor(T);
});

await step('alerts-silenced', async () => {
  await page.goto(`${base}/alerts`);
  await page.locator('[data-testid=alert][data-state=silenced]', { hasText: 'DemoHot' }).first().waitFor(T);
});

await step('silence-edit', async () => {
  await page.goto(`${base}/silences`);
  const row = page.locator('[data-testid=silence][data-state=active]', { hasText: 'DemoHot' }).first();
  await row.locator('[data-testid=silence-edit]').click();
  await page.locator('[data-testid=silence-form]').waitFor(T);
  await page.getByLabel('Duration').fill('3h');
  await page.getByLabel('Comment').fill('edited in the browser test');
  await page.locator('[data-testid=silence-create]').click();
  await page.locator('[data-testid=silence][data-state=active]', { hasText: 'edited in the browser test' }).waitFor(T);
  // Same matchers and start: updated in place, not expired and recreated.
  const sil = await page.evaluate(async () => (await (await fetch('/api/v2/silences')).json()).filter((s) => s.matchers.some((m) => m.value === 'DemoHot')));
  const active = sil.filter((s) => s.status.state === 'active');
  if (sil.length !== 1 || active.length !== 1) throw new Error(`want the one silence updated in place, got ${JSON.stringify(sil.map((s) => [s.id, s.status.state]))}`);
  const left = (Date.parse(active[0].endsAt) - Date.now()) / 3600e3;
  if (!(left > 2.9 && left <= 3.01)) throw new Error(`ends in ${left.toFixed(2)} h, want 3 h`);
});

await step('rules', async () => {
  await page.goto(`${base}/rules`);
  await page.locator('[data-testid=rule]', { hasText: 'DemoHot' }).first().waitFor(T);
});

await step('status', async () => {
  await page.goto(`${base}/status`);
  await page.locator('[data-testid=head-series]').waitFor(T);
  await page.locator('[data-testid=cardinality] tbody tr').first().waitFor(T);
});

await step('korean-dark', async () => {
  await page.locator('[data-testid=lang]').click();
  await page.locator('nav a', { hasText: '탐색' }).waitFor(T);
  const before = await page.evaluate(() => document.documentElement.dataset.theme);
  await page.locator('[data-testid=theme]').click();
  const after = await page.evaluate(() => document.documentElement.dataset.theme);
  if (before === after) throw new Error(`theme stayed ${after}`);
  await page.reload();
  await page.locator('nav a', { hasText: '탐색' }).waitFor(T);
  const kept = await page.evaluate(() => document.documentElement.dataset.theme);
  if (kept !== after) throw new Error(`theme not kept across reload: ${kept}`);
});

await step('keyboard', async () => {
  await page.goto(`${base}/graph`);
  // Tab 1: the brand link, 2: Dashboards, 3: Explore, 4: Targets.
  for (let i = 0; i < 4; i++) await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => `${document.activeElement?.tagName} ${document.activeElement?.getAttribute('href')}`);
  if (focused !== 'A /targets') throw new Error(`fourth Tab focused ${focused}`);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/targets/, T);
});

// ---- dashboards --------------------------------------------------------

const dashboards = {};

async function panelsSettled() {
  await page.locator('[data-testid=dashboard]').waitFor(T);
  await page.waitForFunction(
    () => {
      const ps = [...document.querySelectorAll('[data-testid=panel]')];
      return ps.length > 0 && ps.every((p) => p.dataset.loaded === 'true');
    },
    null,
    { timeout: 30000 },
  );
  return page.evaluate(() => ({
    panels: document.querySelectorAll('[data-testid=panel]').length,
    errors: [...document.querySelectorAll('[data-panel-error]')].map((e) => `${e.closest('[data-testid=panel]').querySelector('.panel-title').textContent}: ${e.textContent.slice(0, 300)}`),
    unsupported: [...document.querySelectorAll('[data-panel-unsupported]')].map((e) => e.dataset.panelUnsupported),
    noData: document.querySelectorAll('[data-testid=panel] .no-data').length,
  }));
}

await step('dashboards-list', async () => {
  await page.goto(`${base}/dashboards`);
  await page.locator('[data-testid=dashboard-item]').first().waitFor(T);
  const n = await page.locator('[data-testid=dashboard-item]').count();
  const errors = await page.locator('[data-testid=dashboard-item] td.error:not(:empty)').count();
  if (n < 8 || errors) throw new Error(`${n} dashboards listed, ${errors} with errors`);
});

// Every dashboard renders with no panel in error and no unsupported panel.
const expectations = {
  'bongsu-host': { minWithData: 12 },
  'bongsu-containers': { minWithData: 2 },
  'bongsu-probes': { minWithData: 2 },
  'bongsu-operations': { minWithData: 7 },
  rYdddlPWk: { minWithData: 10 },
  'blackbox-exporter-j4da': { minWithData: 0 },
  k8s_views_pods: { minWithData: 0 },
  docker_containers: { minWithData: 0 },
};
for (const [uid, want] of Object.entries(expectations)) {
  await step(`dashboard-${uid}`, async () => {
    await page.goto(`${base}/d/${uid}`);
    const s = await panelsSettled();
    dashboards[uid] = s;
    if (s.errors.length) throw new Error(`panels in error: ${s.errors.join(' | ')}`);
    if (s.unsupported.length) throw new Error(`unsupported panels: ${s.unsupported.join(', ')}`);
    if (s.panels - s.noData < want.minWithData) throw new Error(`only ${s.panels - s.noData} of ${s.panels} panels have data (want ${want.minWithData})`);
  });
}

await step('dashboard-variable', async () => {
  await page.goto(`${base}/d/bongsu-host?from=now-15m`);
  await panelsSettled();
  const queries = [];
  const onRequest = (r) => {
    if (r.url().includes('/api/v1/query')) queries.push(decodeURIComponent((r.postData() ?? '').replace(/\+/g, ' ')));
  };
  page.on('request', onRequest);
  await page.locator('[data-testid=var-job]').selectOption('node2');
  await page.waitForFunction(() => location.search.includes('var-job=node2'), null, T);
  await page.waitForTimeout(300);
  const s = await panelsSettled();
  page.off('request', onRequest);
  if (!queries.some((q) => q.includes('job="node2"'))) throw new Error(`no panel query used job="node2": ${queries.slice(0, 3).join(' || ')}`);
  if (s.errors.length || s.noData) throw new Error(`after the change: ${s.errors.length} errors, ${s.noData} panels without data`);
});

await step('dashboard-row-expand', async () => {
  await page.goto(`${base}/d/rYdddlPWk`);
  const before = (await panelsSettled()).panels;
  await page.locator('[data-testid=row]', { hasText: 'CPU / Memory / Net / Disk' }).click();
  const after = await panelsSettled();
  if (after.panels <= before) throw new Error(`expanding the row showed no panels (${before} → ${after.panels})`);
  if (after.errors.length) throw new Error(`panels in error: ${after.errors.join(' | ')}`);
});

await step('dashboard-kiosk', async () => {
  await page.goto(`${base}/d/bongsu-host`);
  await panelsSettled();
  await page.locator('[data-testid=kiosk]').click();
  await page.locator('header').waitFor({ state: 'hidden', timeout: 5000 });
  if (!page.url().includes('kiosk')) throw new Error('kiosk not in the URL');
});

const imported = (title, expr) =>
  JSON.stringify({
    uid: 'imported-demo',
    title,
    schemaVersion: 39,
    time: { from: 'now-15m', to: 'now' },
    panels: [{ id: 1, type: 'timeseries', title: 'Temperature', gridPos: { x: 0, y: 0, w: 12, h: 8 }, targets: [{ refId: 'A', expr }] }],
  });

await step('dashboard-import', async () => {
  await page.goto(`${base}/dashboards`);
  await page.locator('[data-testid=import]').click();
  await page.locator('[data-testid=import-text]').fill(imported('Imported demo', 'demo_temperature'));
  await page.locator('[data-testid=import-submit]').click();
  await page.waitForURL(/\/d\/imported-demo/, T);
  const s = await panelsSettled();
  if (s.errors.length || s.noData) throw new Error(`imported dashboard: ${s.errors.length} errors, ${s.noData} without data`);
});

await step('dashboard-new-version-diff', async () => {
  await page.goto(`${base}/dashboards?import`);
  await page.locator('[data-testid=import-text]').fill(imported('Imported demo v2', 'demo_temperature * 2'));
  expectedConsoleError = /status of 412/;
  await page.locator('[data-testid=import-submit]').click();
  const err = await page.locator('[data-testid=import-error]').textContent(T);
  if (!err.includes('already exists')) throw new Error(`re-import without overwrite: ${err}`);
  await page.waitForTimeout(200);
  expectedConsoleError = null;
  await page.locator('[data-testid=import-overwrite]').check();
  await page.locator('[data-testid=import-submit]').click();
  await page.waitForURL(/\/d\/imported-demo/, T);
  await panelsSettled();
  await page.locator('[data-testid=versions-toggle]').click();
  await page.locator('[data-testid=version]').nth(1).waitFor(T);
  if ((await page.locator('[data-testid=version]').count()) !== 2) throw new Error('want two versions listed');
  await page.locator('[data-testid=show-diff]').click();
  const diff = await page.locator('[data-testid=diff]').textContent(T);
  for (const want of ['+  "title": "Imported demo v2"', '-  "title": "Imported demo"', 'demo_temperature * 2']) {
    if (!diff.includes(want)) throw new Error(`diff lacks ${want}: ${diff.slice(0, 400)}`);
  }
});

await step('dashboard-export', async () => {
  const [dl] = await Promise.all([page.waitForEvent('download', T), page.locator('[data-testid=export]').click()]);
  const model = JSON.parse(readFileSync(await dl.path(), 'utf8'));
  if (dl.suggestedFilename() !== 'imported-demo.json' || model.version !== 2 || model.title !== 'Imported demo v2') {
    throw new Error(`exported ${dl.suggestedFilename()}: version ${model.version}, title ${model.title}`);
  }
});

await browser.close();
writeFileSync(join(outdir, 'summary.json'), JSON.stringify({ steps, dashboards, problems }, null, 2));
console.log(JSON.stringify({ steps, dashboards, problems }));
process.exit(problems.length ? 1 : 0);
