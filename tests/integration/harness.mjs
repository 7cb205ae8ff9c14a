// Starts the real `imgbatch up` binary for the Node.js tests (AWS SDK for
// JavaScript v3). Mirrors harness.py.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ACCESS_KEY = 'AKIAIMGBATCHTEST0001';
export const SECRET_KEY = 'imgbatch/test/secret/key/0123456789abcdef';
export const REGION = 'us-east-1';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function waitUntil(predicate, { timeoutMs = 30000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await predicate();
    if (v) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// A sample from the server's /-/metrics (Prometheus text): `name` with its labels, if any,
// as the text writes them (`imgbatch_queue_noisy_groups{queue="q"}`).
export async function metric(endpoint, name) {
  const text = await (await fetch(`${endpoint}/-/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  if (!line) throw new Error(`no ${name} in /-/metrics`);
  return Number(line.slice(name.length + 1));
}

export async function startServer(extraArgs = []) {
  const here = dirname(fileURLToPath(import.meta.url));
  const bin = process.env.IMGBATCH_BIN || join(here, '..', '..', 'build', 'release', 'src', 'cli', 'imgbatch');
  const dataDir = mkdtempSync(join(tmpdir(), 'imgbatch-node-'));
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  env.IMGBATCH_ACCESS_KEY_ID = ACCESS_KEY;
  env.IMGBATCH_SECRET_ACCESS_KEY = SECRET_KEY;
  const log = openSync(join(dataDir, 'server.log'), 'a');
  const proc = spawn(bin, ['up', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, ...extraArgs],
    { env, stdio: ['ignore', log, log] });
  const endpoint = `http://127.0.0.1:${port}`;
  let exited = false;
  proc.on('exit', () => { exited = true; });
  await waitUntil(async () => {
    if (exited) throw new Error('server exited early; see ' + join(dataDir, 'server.log'));
    try {
      const r = await fetch(`${endpoint}/-/ready`);
      return r.status === 200;
    } catch { return false; }
  }, { what: 'server ready' });
  return {
    endpoint,
    port,
    dataDir,
    pid: proc.pid,
    clientConfig: {
      endpoint,
      region: REGION,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      forcePathStyle: true,
    },
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        await waitUntil(() => exited, { what: 'server exit' });
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
