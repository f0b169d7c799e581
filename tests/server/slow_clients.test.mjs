// Slow and broken clients against a real pz-server (raw sockets on 127.0.0.1): the read timeout
// bounds a whole request, headers and body, however the bytes trickle in (slowloris); a request
// cut off is closed without an answer (no 408) and counted in pz_http_timeouts_total; a client
// that never reads its answer is cut off after the same time and holds up nobody (the server
// runs one thread here); idle keep-alive connections are closed after the idle timeout; 200
// half-open connections do not keep a normal request from being served; and running out of file
// descriptors does not make the server spin. Oversized headers (431) and bodies (413) are in
// api.test.mjs.
//
//   node --test tests/server/slow_clients.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { T0, call, metricsMap as metrics, startServer, tempDir } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const DEADLINE = 500; // --read-timeout-ms and --idle-timeout-ms of the first server
const BOUND = 5000; // "cut off" means: closed within this, 10x the deadline

const READ = 'pz_http_timeouts_total{phase="read"}';
const WRITE = 'pz_http_timeouts_total{phase="write"}';

/**
 * A raw connection: `data` (latin1 text received), `closed` (a promise of the ms from connect to
 * close), `alive()`.
 */
function connect(port, { paused = false } = {}) {
  const sock = net.connect(port, '127.0.0.1');
  const c = { sock, data: '', bytes: 0, isClosed: false };
  const t0 = performance.now();
  if (paused) sock.pause();
  else {
    sock.setEncoding('latin1');
    sock.on('data', (d) => {
      c.data += d;
      c.bytes += d.length;
    });
  }
  sock.on('error', () => {});
  c.connected = new Promise((r) => sock.once('connect', r));
  c.closed = new Promise((r) =>
    sock.once('close', () => {
      c.isClosed = true;
      r(performance.now() - t0);
    }),
  );
  return c;
}

/** Resolves with the close time, or rejects when the connection is still open after `ms`. */
function closedWithin(c, ms, what) {
  return Promise.race([
    c.closed,
    sleep(ms).then(() => {
      c.sock.destroy();
      throw new Error(`${what}: still open after ${ms} ms`);
    }),
  ]);
}

describe('one thread, read and idle timeouts of 500 ms', () => {
  let s;
  let staticDir;
  const BIG = 32 * 1024 * 1024; // more than the socket buffers of both ends hold
  before(async () => {
    staticDir = tempDir('pz-static-');
    fs.writeFileSync(path.join(staticDir, 'big.bin'), crypto.randomBytes(BIG));
    s = await startServer({
      args: ['--threads', '1', '--read-timeout-ms', String(DEADLINE),
        '--idle-timeout-ms', String(DEADLINE), '--static', staticDir],
    });
  });
  after(async () => {
    await s?.stop();
    fs.rmSync(staticDir, { recursive: true, force: true });
    if (s) fs.rmSync(s.data, { recursive: true, force: true });
  });

  test('slowloris: headers trickled one byte per 100 ms are cut off at the deadline, unanswered', async () => {
    const before = await metrics(s);
    const c = connect(s.port);
    await c.connected;
    c.sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let sent = 0;
    const trickle = setInterval(() => {
      if (!c.isClosed) c.sock.write(sent++ % 2 ? 'a' : 'X');
    }, 100);
    try {
      const ms = await closedWithin(c, BOUND, 'slowloris');
      // Each byte came well within 500 ms of the one before: only a deadline for the whole
      // request cuts this client off.
      assert.ok(sent >= 3, `${sent} bytes trickled before the close (${Math.round(ms)} ms)`);
      assert.equal(c.data, '', 'closed without an answer (no 408)');
    } finally {
      clearInterval(trickle);
    }
    const m = await metrics(s);
    assert.ok(m.get(READ) >= before.get(READ) + 1, `${READ}: ${before.get(READ)} → ${m.get(READ)}`);
    assert.equal((await call(s, 'GET', '/healthz')).status, 200);
  });

  test('a body sent slower than the deadline is cut off; none of it is stored', async () => {
    const before = await metrics(s);
    const anon = `slow-${crypto.randomBytes(4).toString('hex')}`;
    const body = JSON.stringify({
      anonymous_id: anon,
      events: [{ id: `e-${anon}`, type: 'page_view', t: T0, page: { path: '/slow' } }],
    });
    const c = connect(s.port);
    await c.connected;
    c.sock.write(
      'POST /v1/collect HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer pk_demo\r\n' +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    const trickle = setInterval(() => {
      if (!c.isClosed && sent < body.length - 1) c.sock.write(body[sent++]);
    }, 100);
    try {
      await closedWithin(c, BOUND, 'slow body');
      assert.ok(sent >= 3 && sent < body.length, `${sent} of ${body.length} body bytes sent`);
      assert.equal(c.data, '');
    } finally {
      clearInterval(trickle);
    }
    const m = await metrics(s);
    assert.ok(m.get(READ) >= before.get(READ) + 1);
    const r = await call(s, 'GET', `/v1/profiles/${anon}`, { key: 'sk_demo' });
    assert.equal(r.status, 404, 'the cut-off batch left nothing behind');
    // The same batch sent at once is accepted: the timeout was about time, not content.
    const ok = await call(s, 'POST', '/v1/collect', { key: 'pk_demo', body: JSON.parse(body) });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.accepted, 1);
  });

  test('a connection that never sends a byte is closed at the deadline', async () => {
    const c = connect(s.port);
    await c.connected;
    await closedWithin(c, BOUND, 'silent connection');
    assert.equal(c.data, '');
  });

  test('a client that never reads its answer is cut off and holds up no one else', async () => {
    const before = await metrics(s);
    const c = connect(s.port, { paused: true });
    await c.connected;
    c.sock.write('GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await sleep(100);
    // Others are served meanwhile (one server thread: the stuck write does not block it).
    for (let i = 0; i < 10; i++) {
      assert.equal((await call(s, 'GET', '/healthz')).status, 200);
      assert.equal((await call(s, 'GET', '/v1/bundle', { key: 'pk_demo' })).status, 200);
    }
    // The write times out and is counted.
    let m;
    for (let waited = 0; waited < BOUND; waited += 100) {
      m = await metrics(s);
      if (m.get(WRITE) > before.get(WRITE)) break;
      await sleep(100);
    }
    assert.ok(m.get(WRITE) >= before.get(WRITE) + 1, `${WRITE}: ${before.get(WRITE)} → ${m.get(WRITE)}`);
    // Reading now gets what was in flight, then the close: never the whole file.
    let got = 0;
    c.sock.on('data', (d) => (got += d.length));
    c.sock.resume();
    await closedWithin(c, BOUND, 'stuck reader');
    assert.ok(got > 0 && got < BIG, `${got} bytes of ${BIG}`);
  });

  test('keep-alive: a second request in time is served; an idle connection is closed', async () => {
    const c = connect(s.port);
    await c.connected;
    const req = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    c.sock.write(req);
    await sleep(150);
    c.sock.write(req);
    await sleep(150);
    assert.equal(c.data.match(/HTTP\/1\.1 200/g)?.length, 2, c.data);
    assert.equal(c.isClosed, false);
    const before = await metrics(s);
    const ms = await closedWithin(c, BOUND, 'idle keep-alive');
    assert.ok(ms >= DEADLINE, `closed after ${Math.round(ms)} ms`);
    const m = await metrics(s);
    assert.equal(m.get(READ), before.get(READ), 'an idle close is not a timeout');
  });

  test('pipelined requests are all answered, in order', async () => {
    const c = connect(s.port);
    await c.connected;
    c.sock.write(
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    await closedWithin(c, BOUND, 'pipelined');
    assert.deepEqual(c.data.match(/HTTP\/1\.1 \d+/g), ['HTTP/1.1 200', 'HTTP/1.1 404', 'HTTP/1.1 200']);
  });
});

describe('many half-open connections', () => {
  let s;
  const TIMEOUT = 3000;
  before(async () => {
    s = await startServer({ args: ['--threads', '1', '--read-timeout-ms', String(TIMEOUT)] });
  });
  after(async () => {
    await s?.stop();
    if (s) fs.rmSync(s.data, { recursive: true, force: true });
  });

  test('200 half-open connections: normal requests are served meanwhile; all are closed at the deadline', async () => {
    const conns = [];
    for (let i = 0; i < 200; i++) {
      const c = connect(s.port);
      conns.push(c);
      c.connected.then(() => c.sock.write(i % 2 ? 'GET / HTTP/1.1\r\nHost: x\r\n' : 'POST /v1/co'));
    }
    await Promise.all(conns.map((c) => c.connected));
    for (let i = 0; i < 5; i++) {
      const r = await call(s, 'POST', '/v1/decide', { key: 'pk_demo', body: { id: 'half-open', slots: ['hero'] } });
      assert.equal(r.status, 200);
    }
    assert.ok(conns.filter((c) => c.isClosed).length < 200, 'served while they were open');
    await Promise.all(conns.map((c, i) => closedWithin(c, TIMEOUT + BOUND, `half-open ${i}`)));
    const m = await metrics(s);
    assert.ok(m.get(READ) >= 200, `${READ} = ${m.get(READ)}`);
  });
});

describe('out of file descriptors', () => {
  let s;
  const TIMEOUT = 1000;
  before(async () => {
    s = await startServer({ args: ['--threads', '1', '--read-timeout-ms', String(TIMEOUT)] });
  });
  after(async () => {
    await s?.stop();
    if (s) fs.rmSync(s.data, { recursive: true, force: true });
  });

  test('out of file descriptors: the server waits (no spinning) and serves again once they are back', async () => {
    const pid = s.child.pid;
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    const limit = fds + 8;
    const soft = /Max open files\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'))[1];
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:`]); // the soft limit
    try {
      // More connections than descriptors: the rest wait in the listen backlog.
      const conns = [];
      for (let i = 0; i < 20; i++) conns.push(connect(s.port));
      await Promise.all(conns.map((c) => c.connected));
      await sleep(200);
      const cpu = () => {
        const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, s (USER_HZ = 100)
      };
      const c0 = cpu();
      await sleep(1000);
      const used = cpu() - c0;
      assert.ok(used < 0.25, `${used} s of CPU in 1 s while out of descriptors (accept spins?)`);
      // The first connections time out, the waiting ones are accepted (and time out) in turn,
      // and a new request is served.
      await Promise.all(conns.map((c, i) => closedWithin(c, 4 * TIMEOUT + BOUND, `waiting ${i}`)));
      assert.equal((await call(s, 'GET', '/healthz')).status, 200);
    } finally {
      execFileSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:`]);
    }
  });
});
