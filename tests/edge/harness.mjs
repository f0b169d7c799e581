// Shared by the edge tests (tests/edge/*.test.mjs): starts the real worker in workerd with a
// configuration derived from edge-worker/config.capnp (bindings replaced or added, ports chosen by
// workerd), a test origin (a node HTTP server serving pages), and a recording proxy in front of
// pz-server that can be made slow or down.
//
//   node --test tests/edge/
//   (env WORKERD: the binary, default node_modules/@cloudflare/workerd-linux-64/bin/workerd)
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT } from '../js/harness.mjs';

export { ROOT };
export const WORKERD = process.env.WORKERD
  ? path.resolve(process.env.WORKERD)
  : path.join(ROOT, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd');
export const EDGE_DIR = path.join(ROOT, 'edge-worker');
export const CONFIG = path.join(EDGE_DIR, 'config.capnp');

/** A capnp string literal. */
const capnpString = (s) => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';

/**
 * edge-worker/config.capnp with `bindings` (name → text) set: existing text bindings get the new
 * value, others are added; `bundle` (an object) becomes a PZ_BUNDLE json binding from a file in
 * `dir`. Module paths become absolute (resolved with `-I ROOT`) so the file can live in `dir`.
 */
export function makeConfig(dir, { bindings = {}, bundle } = {}) {
  let text = fs.readFileSync(CONFIG, 'utf8');
  text = text.replace(/embed "([^"/][^"]*)"/g, (_, p) => {
    const abs = path.resolve(EDGE_DIR, p);
    return `embed "/${path.relative(ROOT, abs).split(path.sep).join('/')}"`;
  });
  const added = [];
  for (const [name, value] of Object.entries(bindings)) {
    const re = new RegExp(`\\(name = "${name}", text = "(?:[^"\\\\]|\\\\.)*"\\)`);
    const b = `(name = "${name}", text = ${capnpString(String(value))})`;
    if (re.test(text)) text = text.replace(re, () => b);
    else added.push(b);
  }
  if (bundle !== undefined) {
    fs.writeFileSync(path.join(dir, 'bundle.json'), JSON.stringify(bundle));
    added.push('(name = "PZ_BUNDLE", json = embed "bundle.json")');
  }
  if (added.length) {
    text = text.replace('bindings = [', () => 'bindings = [\n    ' + added.join(',\n    ') + ',');
  }
  const file = path.join(dir, 'config.capnp');
  fs.writeFileSync(file, text);
  return file;
}

/**
 * Starts workerd with a derived configuration (see makeConfig) on a free port of 127.0.0.1.
 * Resolves when it listens: {url, port, logs (stderr lines), stop()}.
 */
export async function startWorkerd(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-edge-'));
  const file = makeConfig(dir, opts);
  const child = spawn(
    WORKERD,
    ['serve', file, '-I', ROOT, '--socket-addr', 'http=127.0.0.1:0', '--control-fd', '3'],
    { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
  );
  const logs = [];
  let err = '';
  const collect = (d) => {
    err += d;
    let nl;
    while ((nl = err.indexOf('\n')) >= 0) {
      logs.push(err.slice(0, nl));
      err = err.slice(nl + 1);
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exit = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    let ctl = '';
    child.stdio[3].on('data', (d) => {
      ctl += d;
      for (const line of ctl.split('\n')) {
        try {
          const m = JSON.parse(line);
          if (m.event === 'listen' && m.socket === 'http') resolve(m.port);
        } catch {}
      }
    });
    exit.then((e) => {
      const out = logs.join('\n') + err;
      reject(new Error(`workerd exited (${JSON.stringify(e)}) before listening:\n${out}`));
    });
    setTimeout(() => reject(new Error('workerd did not listen in 20 s')), 20000).unref();
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    logs,
    async stop() {
      child.kill('SIGTERM');
      await exit;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Listens on a free port of 127.0.0.1; resolves {server, url, port}. */
export function listen(handler) {
  const server = http.createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ server, port, url: `http://127.0.0.1:${port}` });
    }),
  );
}

const close = (server) =>
  new Promise((r) => {
    server.closeAllConnections();
    server.close(r);
  });

/**
 * A test origin: `pages` maps a path to an HTML string or {status, headers, body}. Every request
 * is recorded ({method, url, headers}). Unknown paths are 404 text.
 */
export async function startOrigin(pages) {
  const requests = [];
  const { server, url, port } = await listen((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    const p = pages[new URL(req.url, 'http://x').pathname];
    const page = typeof p === 'string' ? { body: p } : p;
    if (!page) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found\n');
    }
    res.writeHead(page.status || 200, {
      'content-type': 'text/html; charset=utf-8',
      etag: '"origin-etag"',
      'cache-control': 'public, max-age=60',
      ...page.headers,
    });
    res.end(page.body);
  });
  return { url, port, requests, stop: () => close(server) };
}

/**
 * A recording proxy in front of a server (`target` URL): every request is recorded ({method,
 * path, headers, body}); `mode.delay` (ms) holds requests whose path starts with
 * `mode.delayPath` (default any), `mode.down` resets every connection at once.
 */
export async function startRecorder(target) {
  const requests = [];
  const mode = { delay: 0, delayPath: '', down: false };
  const { server, url, port } = await listen(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const { method, url: p, headers } = req;
    requests.push({ method, path: p, headers, body: body.toString() });
    if (mode.down) return req.socket.destroy();
    if (mode.delay && req.url.startsWith(mode.delayPath)) {
      await new Promise((r) => setTimeout(r, mode.delay));
    }
    try {
      const headers = { ...req.headers };
      delete headers.host;
      delete headers['content-length'];
      const r = await fetch(target + req.url, {
        method: req.method,
        headers,
        body: body.length ? body : undefined,
      });
      const out = Buffer.from(await r.arrayBuffer());
      const h = {};
      for (const k of ['content-type', 'etag', 'cache-control', 'retry-after']) {
        if (r.headers.get(k)) h[k] = r.headers.get(k);
      }
      res.writeHead(r.status, h);
      res.end(out);
    } catch {
      if (!res.destroyed) res.destroy();
    }
  });
  return {
    url,
    port,
    requests,
    mode,
    reset() {
      requests.length = 0;
      Object.assign(mode, { delay: 0, delayPath: '', down: false });
    },
    stop: () => close(server),
  };
}

/**
 * GET (or `init.method`) with cookies {name: value}: {status, headers, text, ms}.
 */
export async function get(url, { cookies, headers = {}, ...init } = {}) {
  const h = { accept: 'text/html', ...headers };
  if (cookies) {
    h.cookie = Object.entries(cookies)
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  }
  const t0 = performance.now();
  const res = await fetch(url, { headers: h, redirect: 'manual', ...init });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, ms: performance.now() - t0 };
}

/** The consent cookie value (URL-encoded JSON) for purposes. */
export const consentCookie = (purposes) => encodeURIComponent(JSON.stringify(purposes));
