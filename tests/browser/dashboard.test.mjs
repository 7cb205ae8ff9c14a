// The dashboard in a real browser: Debian's chromium driven by playwright-core
// against the real `imgbatch up` binary (started like the other integration
// tests). One server for the whole file; the tests run in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer, waitUntil } from '../integration/harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.IMGBATCH_SOURCE_DIR || join(HERE, '..', '..');
const CORPUS = process.env.IMGBATCH_CORPUS || join(SOURCE, '..', 'shared', 'corpus');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const IMAGES = ['im_cyclamen_persicum.jpg', 'deb_mate_FreshFlower.jpg', 'mx_Samsung_Galaxy_S.jpg'];
// The next 20 corpus JPEGs by size (up to 2560x1600): a few seconds of backlog.
const BURST = ['im_portrait-orientation-6_gray.jpg', 'im_tanners_ridge.jpg', 'mx_Nikon_E950.jpg',
  'mx_Canon_PowerShot_G2_3.jpg', 'im_prairie_falcon.jpg', 'mx_Sony_DSC-HX5V_2.jpg',
  'deb_plasma_Grey_2560x1600_gray.jpg', 'exif_Portrait_6.jpg', 'exif_Portrait_8.jpg',
  'mx_Nikon_D5000.jpg', 'exif_Landscape_1.jpg', 'exif_Landscape_4.jpg', 'exif_Landscape_3.jpg',
  'exif_Landscape_2.jpg', 'exif_Landscape_5.jpg', 'exif_Landscape_7.jpg', 'exif_Landscape_8.jpg',
  'exif_Landscape_6.jpg', 'deb_lomiri_Wine_by_Jakkub_Mede.jpg', 'deb_lomiri_friends_by_Aitzol_Berasategi.jpg'];
// Where the screenshot taken during the burst goes (docs/dashboard.png when
// IMGBATCH_UPDATE_SCREENSHOT=1, so that a test run does not touch the tree).
const SCREENSHOT = process.env.IMGBATCH_UPDATE_SCREENSHOT === '1'
  ? join(SOURCE, 'docs', 'dashboard.png')
  : join(process.env.IMGBATCH_BROWSER_OUT || join(HERE, 'out'), 'dashboard.png');

let server;
let token;
let browser;
let context;
let page;
const consoleErrors = [];

before(async () => {
  assert.ok(existsSync(CORPUS), `corpus not found at ${CORPUS} (set IMGBATCH_CORPUS)`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} missing: scripts/deps.sh installs Debian's chromium`);
  server = await startServer(['--max-workers', '2']);
  token = readFileSync(join(server.dataDir, 'dashboard-token'), 'utf8').trim();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
  page = await context.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function metricsValue(name, labels = '') {
  const text = await (await fetch(`${server.endpoint}/-/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  assert.ok(line, `${name}${labels} not in /-/metrics`);
  return Number(line.split(' ')[1]);
}

async function apiJson(path) {
  const r = await fetch(`${server.endpoint}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
}

async function fieldNumber(name) {
  return Number(await page.locator(`[data-field="${name}"]`).textContent());
}

test('without the token the page and the API are refused', async () => {
  const anonymous = await browser.newContext();
  const p = await anonymous.newPage();
  const response = await p.goto(`${server.endpoint}/ui/`);
  assert.equal(response.status(), 401);
  assert.ok(await p.locator('form input[name="token"]').isVisible());
  const wrong = await p.goto(`${server.endpoint}/ui/?token=not-the-token`);
  assert.equal(wrong.status(), 401);
  const api = await p.request.get(`${server.endpoint}/-/api/status`);
  assert.equal(api.status(), 401);
  // Pasting the token into the form opens the page.
  await p.fill('input[name="token"]', token);
  await Promise.all([p.waitForURL(`${server.endpoint}/ui/`), p.press('input[name="token"]', 'Enter')]);
  assert.equal(await p.title(), 'imgbatch dashboard');
  await anonymous.close();
});

test('the token opens the page, moves into an HttpOnly cookie and leaves the URL', async () => {
  const response = await page.goto(`${server.endpoint}/ui/?token=${token}`);
  assert.equal(response.status(), 200);
  assert.equal(page.url(), `${server.endpoint}/ui/`);
  const [cookie] = await context.cookies();
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.ok(!cookie.value.includes(token));
  assert.match(await page.locator('link[rel="icon"]').getAttribute('href'), /favicon\.svg$/);
  await page.waitForSelector('#live:not(:has-text("connecting"))');
  // A state-changing call with the cookie but without the page's CSRF token is refused.
  const forged = await page.request.put(`${server.endpoint}/-/api/upload/forged.jpg`, { data: 'x' });
  assert.equal(forged.status(), 403);
});

test('three corpus images through the file input appear as thumbnails', async () => {
  await page.setInputFiles('#file-input', IMAGES.map((f) => join(CORPUS, f)));
  for (const name of IMAGES) {
    const thumb = `img[src="/-/api/objects/output/thumbs/${name}"]`;
    const img = page.locator(`#gallery-list ${thumb}`);
    await img.waitFor({ timeout: 60000 });
    await waitUntil(() => img.evaluate((i) => i.complete && i.naturalWidth > 0), { what: `${name} decoded` });
    const card = page.locator('#gallery-list li', { has: page.locator(thumb) });
    assert.ok(await card.locator(`a[href="/-/api/objects/output/resized/${name}"]`).count());
    assert.ok(await card.locator(`a[href="/-/api/objects/input/${name}"]`).count());
    assert.match(await card.textContent(), /processed in/);
    await page.locator('#uploads li.done', { hasText: name }).waitFor();
  }
});

test('the charts draw and the numbers match /-/metrics', async () => {
  for (const id of ['chart-queue', 'chart-workers', 'chart-rate', 'chart-latency']) {
    await waitUntil(() => page.locator(`#${id}`).evaluate((c) => Number(c.dataset.points) > 1),
      { what: `${id} has points` });
    const inked = await page.locator(`#${id} canvas`).evaluate((canvas) => {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n += 1;
      return n;
    });
    assert.ok(inked > 500, `${id} canvas drew ${inked} pixels`);
  }
  // Quiet now: the page's latest values equal the server's metrics.
  await waitUntil(async () => (await metricsValue('imgbatch_images_processed_total')) === IMAGES.length,
    { what: 'processed count' });
  await waitUntil(async () => await fieldNumber('images-processed') === IMAGES.length, { what: 'box shows 3' });
  const running = await metricsValue('imgbatch_workers_running');
  await waitUntil(async () => {
    const latest = JSON.parse(await page.locator('#chart-workers').getAttribute('data-latest'));
    return latest.running === running && await metricsValue('imgbatch_workers_running') === running;
  }, { what: 'workers chart matches /-/metrics' });
  const visible = await metricsValue('imgbatch_queue_messages_visible', '{queue="batch-queue"}');
  const latestQueue = JSON.parse(await page.locator('#chart-queue').getAttribute('data-latest'));
  assert.equal(latestQueue.visible, visible);
  const p99 = await metricsValue('imgbatch_upload_to_output_ms', '{quantile="0.99"}');
  await waitUntil(async () => {
    const latest = JSON.parse(await page.locator('#chart-latency').getAttribute('data-latest'));
    return latest.p99 === p99;
  }, { what: 'latency chart p99 matches /-/metrics' });
});

test('a corrupt upload lands in dead letters with its reason; redrive sends it back', async () => {
  const failedBefore = await metricsValue('imgbatch_images_failed_total');
  await page.setInputFiles('#file-input', { name: 'corrupt.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a JPEG at all') });
  const row = page.locator('#dlq-table tbody tr', { hasText: 'corrupt.jpg' });
  await row.waitFor({ timeout: 60000 });
  assert.ok((await row.locator('td.reason').textContent()).length > 3);
  await page.locator('#uploads li.failed', { hasText: 'corrupt.jpg' }).waitFor();
  const firstId = await row.getAttribute('data-message-id');
  await page.click('#redrive');
  await page.locator('#dlq-note', { hasText: 'redrive started' }).waitFor();
  // Back on the queue, received again by a worker, failed again: a new dead letter.
  await waitUntil(async () => (await metricsValue('imgbatch_images_failed_total')) >= failedBefore + 2 &&
    (await apiJson('/-/api/queues/batch-dlq/messages?max=10')).messages.some((m) => m.message_id !== firstId),
  { timeoutMs: 60000, what: 'the redriven message processed again' });
  // Delete it from the page.
  // Delete the new dead letter from the page (once the table shows it: the
  // redriven one is gone).
  const again = page.locator(`#dlq-table tbody tr:not([data-message-id="${firstId}"])`, { hasText: 'corrupt.jpg' });
  await again.waitFor();
  assert.equal(await page.locator(`#dlq-table tbody tr[data-message-id="${firstId}"]`).count(), 0);
  await again.locator('button').click();
  await waitUntil(async () => (await apiJson('/-/api/queues/batch-dlq/messages?max=10')).messages.length === 0,
    { what: 'dead letter deleted' });
});

test('deleting a dead letter that is already gone says so, without an error', async () => {
  await page.setInputFiles('#file-input', { name: 'corrupt-gone.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a JPEG either') });
  const row = page.locator('#dlq-table tbody tr', { hasText: 'corrupt-gone.jpg' });
  await row.waitFor({ timeout: 60000 });
  const id = await row.getAttribute('data-message-id');
  // Freeze the page's table on the row (its periodic peeks get this answer)
  // until it sends the DELETE, so the click always meets the stale row.
  let frozen = await apiJson('/-/api/queues/batch-dlq/messages?max=50');
  await page.route((url) => url.pathname.startsWith('/-/api/queues/batch-dlq/messages'), (route) => {
    if (route.request().method() === 'DELETE') frozen = null;
    if (frozen && route.request().method() === 'GET') return route.fulfill({ json: frozen });
    return route.continue();
  });
  // Gone behind the page's back, as a redrive or another operator would do.
  const gone = await fetch(`${server.endpoint}/-/api/queues/batch-dlq/messages/${encodeURIComponent(id)}`,
    { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
  assert.equal(gone.status, 204);
  await row.locator('button').click();
  await page.locator('#dlq-note', { hasText: 'already gone' }).waitFor();
  await page.locator(`#dlq-table tbody tr[data-message-id="${id}"]`).waitFor({ state: 'detached' });
  await page.unrouteAll();
});

test('a burst: the screenshot shows the pipeline busy', async () => {
  await page.setInputFiles('#file-input', BURST.map((f) => join(CORPUS, f)));
  // The page shows the backlog and busy workers (or, on a very fast machine,
  // the burst already done).
  await waitUntil(async () => ((await fieldNumber('queue-visible')) + (await fieldNumber('queue-in-flight')) > 0 &&
    (await fieldNumber('workers-busy')) > 0) ||
    (await fieldNumber('images-processed')) >= IMAGES.length + BURST.length, { what: 'burst under way' });
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0)); // the diagram and the charts
  await page.screenshot({ path: SCREENSHOT });
  for (const name of BURST) {
    await page.locator(`#gallery-list img[src="/-/api/objects/output/thumbs/${name}"]`).waitFor({ timeout: 90000 });
  }
});

test('phone width renders without sideways scrolling', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300); // one layout and chart resize
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
  const chartWidth = await page.locator('#chart-queue canvas').evaluate((c) => c.getBoundingClientRect().width);
  assert.ok(chartWidth > 200 && chartWidth <= 390, `chart is ${chartWidth}px wide`);
  await page.setViewportSize({ width: 1280, height: 1100 });
});

test('keyboard reaches the file input, the gallery links and the dead-letter actions', async () => {
  await page.locator('body').focus();
  const reached = new Set();
  for (let i = 0; i < 80; i += 1) {
    await page.keyboard.press('Tab');
    reached.add(await page.evaluate(() => {
      const a = document.activeElement;
      return a.id || a.getAttribute('href') || a.tagName;
    }));
  }
  assert.ok(reached.has('file-input'), 'file input reachable');
  assert.ok([...reached].some((r) => String(r).startsWith('/-/api/objects/')), 'gallery links reachable');
  assert.ok(reached.has('#dead-letters'), 'section links reachable');
});

test('a key with a "." segment still shows its thumbnail', async () => {
  // The browser would resolve "dots/./x.jpg" to "dots/x.jpg" in a URL path.
  const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
  const put = await page.request.put(`${server.endpoint}/-/api/upload/dots%2F.%2Fphoto.jpg`, {
    data: readFileSync(join(CORPUS, IMAGES[0])), headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'image/jpeg' },
  });
  assert.equal(put.status(), 200, await put.text());
  const img = page.locator('#gallery-list img[src="/-/api/objects/output/thumbs%2Fdots%2F.%2Fphoto.jpg"]');
  await img.waitFor({ timeout: 60000 });
  await waitUntil(() => img.evaluate((i) => i.complete && i.naturalWidth > 0), { what: 'the dotted key decoded' });
});

test('no console errors', () => {
  assert.deepEqual(consoleErrors, []);
});
