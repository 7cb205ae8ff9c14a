// The dashboard page: polls /-/api/ every 1.5 s and redraws the pipeline
// diagram, charts, gallery, uploads and dead letters.
import './style.css';
import { api, objectUrl, upload } from './api.js';
import { Chart, rate } from './charts.js';
import { bytes, el, ms, number, time } from './format.js';

const POLL_MS = 1500;
const HISTORY_SECONDS = 300;
const GALLERY_ITEMS = 24;
const DLQ_PEEK = 50;

const state = {
  status: null,
  uploads: new Map(), // key -> {etag, row, stateText, done}
  uploadedCount: 0,
  galleryKeys: '',
  tick: 0,
};

const $ = (id) => document.getElementById(id);
const field = (name) => document.querySelector(`[data-field="${name}"]`);
function setField(name, value) {
  const node = field(name);
  if (node && node.textContent !== String(value)) node.textContent = String(value);
}

function pipelineQueue(status) {
  const name = status.pipeline?.queue;
  return status.queues.find((q) => q.name === name) ?? status.queues.find((q) => q.dead_letter_queue) ?? status.queues[0];
}

function deadLetterQueue(status) {
  const q = pipelineQueue(status);
  const name = status.pipeline?.dead_letter_queue || q?.dead_letter_queue;
  return status.queues.find((x) => x.name === name);
}

// --- live status ------------------------------------------------------------

function renderDiagram(status) {
  const q = pipelineQueue(status);
  const dlq = deadLetterQueue(status);
  setField('input-name', status.pipeline?.input_bucket ?? '');
  setField('output-name', status.pipeline?.output_bucket ?? '');
  setField('input-uploaded', state.uploadedCount);
  setField('queue-name', q?.name ?? '–');
  setField('queue-visible', q?.visible ?? 0);
  setField('queue-in-flight', q?.in_flight ?? 0);
  setField('dlq-name', dlq?.name ?? '–');
  setField('dlq-depth', (dlq?.visible ?? 0) + (dlq?.in_flight ?? 0));
  setField('workers-running', status.workers?.running ?? 0);
  setField('workers-desired', status.workers?.desired ?? 0);
  setField('workers-busy', status.workers?.busy ?? 0);
  setField('images-processed', status.images?.processed ?? 0);
  setField('images-failed', status.images?.failed ?? 0);
  setField('images-rate', number(status.images?.per_second_1m ?? 0, 1));
  $('box-queue').classList.toggle('hot', (q?.visible ?? 0) > 0);
  $('box-workers').classList.toggle('hot', (status.workers?.busy ?? 0) > 0);
  $('box-dlq').classList.toggle('hot', (dlq?.visible ?? 0) > 0);
}

function renderAlarms(status) {
  const list = $('alarms');
  const items = (status.alarms ?? []).map((a) => el('li', { class: `alarm ${a.state.toLowerCase()}` },
    el('strong', {}, a.state), ' ', a.name, ': ', a.metric.replace(/^queue:[^:]+:/, ''), ' ',
    a.statistic, ' ', a.comparison, ' ', a.threshold, ' over ', a.period, ' s',
    a.value !== undefined ? ` (now ${number(a.value, 2)})` : ''));
  list.replaceChildren(...(items.length ? items : [el('li', {}, 'no alarms configured')]));
}

function renderDecisions(status) {
  const decisions = [...(status.scaling ?? [])].reverse().slice(0, 8);
  const items = decisions.map((d) => el('li', {},
    el('time', { datetime: new Date(d.time_ms).toISOString() }, time(d.time_ms)), ' ',
    el('strong', {}, `${d.from} → ${d.to}`), ' ', d.reason));
  $('decisions').replaceChildren(...(items.length ? items : [el('li', {}, 'no scaling yet')]));
}

// --- charts -----------------------------------------------------------------

let charts = null;
function makeCharts() {
  charts = {
    queue: new Chart($('chart-queue'), ['visible', 'in flight', 'dead letters']),
    workers: new Chart($('chart-workers'), ['desired', 'running']),
    rate: new Chart($('chart-rate'), ['images/s']),
    latency: new Chart($('chart-latency'), ['p50', 'p99']),
  };
}

function renderCharts(history, status) {
  const s = history.series;
  const q = pipelineQueue(status);
  const dlq = deadLetterQueue(status);
  const series = (queue, metric) => (queue ? s[`queue:${queue.name}:${metric}`] : undefined);
  charts.queue.update([
    series(q, 'ApproximateNumberOfMessagesVisible'),
    series(q, 'ApproximateNumberOfMessagesNotVisible'),
    series(dlq, 'ApproximateNumberOfMessagesVisible'),
  ]);
  charts.workers.update([s['workers:desired'], s['workers:running']]);
  charts.rate.update([rate(s['images:processed'])]);
  charts.latency.update([s['images:upload_to_output_ms:p50'], s['images:upload_to_output_ms:p99']]);
}

// --- uploads ----------------------------------------------------------------

function setUploadState(entry, text, kind) {
  entry.stateText.textContent = text;
  entry.row.className = `upload ${kind}`;
}

async function uploadFile(file) {
  const key = file.name;
  const progress = el('progress', { max: 100, value: 0, 'aria-label': `upload of ${key}` });
  const stateText = el('span', { class: 'state' }, 'uploading');
  const row = el('li', { class: 'upload uploading' }, el('span', { class: 'key' }, key), progress, stateText);
  $('uploads').prepend(row);
  const entry = { key, row, stateText, progress, etag: null, done: false };
  state.uploads.set(key, entry);
  try {
    const result = await upload(key, file, (fraction) => { progress.value = Math.round(fraction * 100); });
    progress.value = 100;
    entry.etag = result.etag;
    state.uploadedCount += 1;
    setUploadState(entry, 'queued: waiting for a worker', 'queued');
  } catch (err) {
    entry.done = true;
    setUploadState(entry, `upload failed: ${err.message}`, 'failed');
  }
}

function uploadFiles(files) {
  for (const file of files) uploadFile(file);
}

function setUpDropzone() {
  const zone = $('dropzone');
  const input = $('file-input');
  input.addEventListener('change', () => { uploadFiles([...input.files]); input.value = ''; });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    uploadFiles([...e.dataTransfer.files]);
  });
}

function updateUploadsFromGallery(items) {
  for (const item of items) {
    const entry = state.uploads.get(item.source_key);
    if (!entry || entry.done || !entry.etag || item.source?.etag !== entry.etag) continue;
    entry.done = true;
    setUploadState(entry, `done in ${ms(item.upload_to_output_ms)}`, 'done');
    entry.row.append(el('img', { src: objectUrl(item.thumb.bucket, item.thumb.key), alt: `thumbnail of ${item.source_key}`, class: 'mini' }));
  }
}

function updateUploadsFromDeadLetters(messages) {
  for (const m of messages) {
    const entry = state.uploads.get(m.attributes?.SourceKey);
    if (!entry || entry.done || !entry.etag) continue;
    entry.done = true;
    setUploadState(entry, `failed: ${m.attributes.ErrorMessage || m.attributes.ErrorCode} (see dead letters)`, 'failed');
  }
}

// --- gallery ----------------------------------------------------------------

function galleryCard(item) {
  const thumbUrl = objectUrl(item.thumb.bucket, item.thumb.key);
  const links = item.outputs.map((o) => el('a', { href: objectUrl(o.bucket, o.key) }, o.key.split('/')[0]));
  if (item.source) links.push(el('a', { href: objectUrl(item.source.bucket, item.source.key) }, 'original'));
  const sizes = [
    item.source ? `original ${bytes(item.source.size)}` : null,
    ...item.outputs.map((o) => `${o.key.split('/')[0]} ${bytes(o.size)}`),
    `thumb ${bytes(item.thumb.size)}`,
  ].filter(Boolean).join(' · ');
  const times = [
    item.processing_ms !== undefined ? `processed in ${ms(item.processing_ms)}` : null,
    item.upload_to_output_ms !== undefined ? `upload to output ${ms(item.upload_to_output_ms)}` : null,
    item.outdated ? 'made from an earlier version of the original' : null,
  ].filter(Boolean).join(' · ');
  return el('li', { class: 'card' },
    el('img', { src: thumbUrl, alt: item.source_key, loading: 'lazy', width: 192, height: 192 }),
    el('p', { class: 'key' }, item.source_key),
    el('p', { class: 'links' }, ...links.flatMap((a, i) => (i ? [' · ', a] : [a]))),
    el('p', { class: 'meta' }, sizes),
    times ? el('p', { class: 'meta' }, times) : null);
}

async function refreshGallery() {
  const gallery = await api(`/-/api/gallery?max=${GALLERY_ITEMS}`);
  $('gallery-count').textContent = `(${gallery.total})`;
  const signature = gallery.items.map((i) => `${i.thumb.key}@${i.thumb.last_modified_ms}`).join('|');
  if (signature !== state.galleryKeys) {
    state.galleryKeys = signature;
    const cards = gallery.items.map(galleryCard);
    $('gallery-list').replaceChildren(...(cards.length ? cards : [el('li', { class: 'empty' }, 'no outputs yet: drop an image above')]));
  }
  updateUploadsFromGallery(gallery.items);
}

// --- dead letters -----------------------------------------------------------

function dlqName() {
  return state.status ? deadLetterQueue(state.status)?.name : undefined;
}

async function deleteDeadLetter(name, id) {
  try {
    // missing=ok: a message redriven or deleted meanwhile is the end state we
    // wanted, answered as such (not a 404, which the browser logs as an error).
    const result = await api(`/-/api/queues/${encodeURIComponent(name)}/messages/${encodeURIComponent(id)}?missing=ok`, { method: 'DELETE' });
    $('dlq-note').textContent = result?.deleted === false ? 'already gone (redriven or deleted meanwhile)' : 'deleted';
  } catch (err) {
    $('dlq-note').textContent = `delete failed: ${err.message}`;
  }
  try {
    await refreshDeadLetters();
  } catch {
    // the next refresh tick retries and reports the connection state
  }
}

async function redrive() {
  const name = dlqName();
  if (!name) return;
  try {
    // Back to the pipeline's queue: messages the worker dead-lettered itself
    // have no redrive origin for SQS's default destination.
    const destination = state.status.pipeline?.queue;
    const result = await api(`/-/api/queues/${encodeURIComponent(name)}/redrive`, { method: 'POST', json: destination ? { destination } : {} });
    $('dlq-note').textContent = `redrive started (task ${result?.task_handle ?? '?'})`;
  } catch (err) {
    $('dlq-note').textContent = `redrive failed: ${err.message}`;
  }
  refreshDeadLetters();
}

function deadLetterRow(name, m) {
  const a = m.attributes ?? {};
  const reason = [a.ErrorCode, a.ErrorMessage].filter(Boolean).join(': ') || '–';
  return el('tr', { 'data-message-id': m.message_id },
    el('td', { class: 'key' }, a.SourceKey ?? '–'),
    el('td', { class: 'reason' }, reason),
    el('td', {}, m.receive_count),
    el('td', {}, time(m.sent_timestamp)),
    el('td', {}, el('button', { type: 'button', class: 'small', 'aria-label': `delete dead letter for ${a.SourceKey ?? m.message_id}`, onclick: () => deleteDeadLetter(name, m.message_id) }, 'Delete')));
}

async function refreshDeadLetters() {
  const name = dlqName();
  if (!name) return;
  const result = await api(`/-/api/queues/${encodeURIComponent(name)}/messages?max=${DLQ_PEEK}`);
  const rows = result.messages.map((m) => deadLetterRow(name, m));
  const body = $('dlq-table').tBodies[0];
  body.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 5, class: 'empty' }, 'no dead letters'))]));
  $('redrive').disabled = rows.length === 0;
  updateUploadsFromDeadLetters(result.messages);
}

// --- loop -------------------------------------------------------------------

function setLive(text, ok) {
  const live = $('live');
  live.textContent = text;
  live.classList.toggle('down', !ok);
}

async function refresh() {
  const [status, history] = await Promise.all([api('/-/api/status'), api(`/-/api/history?seconds=${HISTORY_SECONDS}`)]);
  state.status = status;
  renderDiagram(status);
  renderAlarms(status);
  renderDecisions(status);
  renderCharts(history, status);
  // Each section reports its own trouble; one failing never stops the others.
  await Promise.all([
    refreshGallery().catch((err) => { $('gallery-count').textContent = `(cannot list: ${err.message})`; }),
    refreshDeadLetters().catch((err) => { $('dlq-note').textContent = `cannot peek: ${err.message}`; }),
  ]);
  setLive(`live · updated ${new Date().toLocaleTimeString()}`, true);
}

async function loop() {
  try {
    await refresh();
  } catch (err) {
    setLive(`cannot reach the server: ${err.message}`, false);
  }
  state.tick += 1;
  setTimeout(loop, POLL_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  makeCharts();
  setUpDropzone();
  $('redrive').addEventListener('click', redrive);
  loop();
});
