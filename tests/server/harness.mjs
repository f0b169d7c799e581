// Shared by the server tests (tests/server/*.test.mjs): starts a real pz-server process on
// 127.0.0.1 (a free port, a fresh data directory) and talks HTTP to it.
//
//   node --test tests/server/        (env PZ_SERVER: the binary, default build/pz-server)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT } from '../js/harness.mjs';

export { ROOT };
export const PZ_SERVER = process.env.PZ_SERVER
  ? path.resolve(process.env.PZ_SERVER)
  : path.join(ROOT, 'build', 'pz-server');
export const DEMO_BUNDLE_FILE = path.join(ROOT, 'demo-site', 'bundle.json');
export const DEMO_BUNDLE = fs.readFileSync(DEMO_BUNDLE_FILE, 'utf8');

/** A fresh temporary directory (removed by the caller's server.stop({ keepData: false })). */
export function tempDir(prefix = 'pz-server-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Starts pz-server. Options: args (extra flags), env, data (a data directory to reuse), keys (a
 * keys-file object, written to a file), bundle (a bundle file; default the demo bundle), port.
 * Resolves when the server logged "listening"; the result has url, port, data, logs (parsed
 * JSON lines of stderr), fetch(path, init), stop(signal), kill9().
 */
export async function startServer(opts = {}) {
  const data = opts.data || tempDir();
  const args = ['--port', String(opts.port ?? 0), '--data', data];
  if (opts.bundle !== null) args.push('--bundle', opts.bundle || DEMO_BUNDLE_FILE);
  if (opts.keys) {
    const file = path.join(data, 'keys.json');
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(opts.keys));
    args.push('--keys', file);
  }
  args.push(...(opts.args || []));
  const child = spawn(PZ_SERVER, args, {
    env: { ...process.env, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  const raw = [];
  let buf = '';
  let exited = null;
  const exit = new Promise((r) =>
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      r(exited);
    }),
  );
  const listening = new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        raw.push(line);
        try {
          const j = JSON.parse(line);
          logs.push(j);
          if (j.msg === 'listening') resolve(j.port);
        } catch {
          logs.push({ unparsed: line });
        }
      }
    });
    exit.then((e) =>
      reject(new Error(`pz-server exited (${JSON.stringify(e)}) before listening:\n${raw.join('\n')}`)),
    );
    setTimeout(() => reject(new Error('pz-server did not start in 10 s')), 10000).unref();
  });
  const port = await listening;
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    url,
    data,
    logs,
    raw,
    exit,
    get exited() {
      return exited;
    },
    /** fetch relative to the server. */
    fetch: (p, init) => fetch(url + p, init),
    /** SIGTERM (or `signal`) and wait for the exit. */
    async stop(signal = 'SIGTERM') {
      if (!exited) child.kill(signal);
      return exit;
    },
    async kill9() {
      if (!exited) child.kill('SIGKILL');
      return exit;
    },
  };
}

/** JSON request helper: returns {status, headers, body (parsed JSON or text)}. */
export async function call(server, method, p, { key, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (key) h.authorization = 'Bearer ' + key;
  if (body !== undefined && !raw) h['content-type'] = 'application/json';
  const res = await server.fetch(p, {
    method,
    headers: h,
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body: parsed };
}

export const T0 = Date.UTC(2026, 10, 22, 12);

/** Prometheus text → Map of "name{labels}" → number. */
export function parseMetrics(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** The server's GET /metrics, parsed (parseMetrics). */
export async function metricsMap(server) {
  return parseMetrics(await (await server.fetch('/metrics')).text());
}
