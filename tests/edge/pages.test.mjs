// The edge worker in front of a test origin and a real pz-server (through a recording proxy that
// can be made slow or down): rewritten pages (slot content in the first bytes, every other byte
// as the origin sent it), consent (cookie, Sec-GPC, withdrawal), the visitor id cookie, server
// decisions from a synced profile, the decide cache, the budget when the server is slow or down,
// pass-through of everything that is not a page, and the /pz/* endpoints (collect, sync,
// identify forwarded with the write key; the bundle with ETag/304).
//
//   node --test tests/edge/pages.test.mjs   (needs build/pz-server, build-wasm/pz_core.wasm)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, tempDir } from '../server/harness.mjs';
import { PZ_WASM } from '../js/harness.mjs';
import { loadCore } from '../../js/src/host.mjs';
import {
  consentCookie,
  get,
  listen,
  startOrigin,
  startRecorder,
  startWorkerd,
} from './harness.mjs';

const BUDGET = 300;
const GRANTED = consentCookie({ analytics: true, personalization: true, marketing: false });
const DENIED = consentCookie({ analytics: false, personalization: false, marketing: false });
const uid = (p) => `${p}-${crypto.randomBytes(5).toString('hex')}`;

/** The site's bundle on the server (the demo shop's high-intent offer, kept to what is tested). */
const BUNDLE = JSON.stringify({
  version: 'edge-pages-1',
  consent: { mode: 'opt-in', gpc: 'personalization_off' },
  metrics: [{ id: 'pricing_views', event: 'page_view',
    where: { starts_with: [{ var: 'page.path' }, '/pricing'] } }],
  segments: [{ id: 'high_intent',
    rule: { and: [{ '>=': [{ metric: ['pricing_views', '7d'] }, 3] },
      { '>=': [{ count: ['add_to_cart', '7d'] }, 1] }] } }],
  actions: [{ id: 'vip_offer', slots: ['hero'], eligible: { in_segment: ['high_intent'] },
    propensity: 0.05, value: 40, content: { title: '10% off today' } }],
  defaults: {
    hero: { content: { title: 'Welcome' } },
    banner: { content: { title: 'Free shipping over $50' } },
  },
});

/** A shop page; slot inner markup and slot attributes are parameters. */
function shopPage({ meta = true, hero, heroAttrs = '', banner, bannerAttrs = '' } = {}) {
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Shop</title>\n' +
    (meta ? '<meta name="pz-slots" content="hero, banner">\n' : '') +
    '<link rel="stylesheet" href="/s.css"></head>\n' +
    '<body><header>Shop &amp; more <img src="/logo.png" alt=\'Logo "S"\'></header>\n' +
    `<section data-pz-slot="hero" class="hero"${heroAttrs}>` +
    (hero ?? '<h1 data-pz-field="title">Hello there</h1><p>static <b>part</b></p>') +
    '</section>\n<p>Between: <a href="/pricing?a=1&amp;b=2">pricing</a><!-- a comment --></p>\n' +
    `<div data-pz-slot="banner"${bannerAttrs}>` +
    (banner ?? '<span data-pz-field="title">Banner default</span>') +
    '</div>\n<footer>\u00a9 2026 \u2014 caf\u00e9</footer></body></html>\n'
  );
}
/** The shop page as the worker should send it with these titles and actions. */
const decided = (hero, heroAction, banner, bannerAction, opts = {}) =>
  shopPage({
    ...opts,
    heroAttrs: ` data-pz-decided="${heroAction ?? ''}"`,
    hero: `<h1 data-pz-field="title">${hero}</h1><p>static <b>part</b></p>`,
    bannerAttrs: ` data-pz-decided="${bannerAction ?? ''}"`,
    banner: `<span data-pz-field="title">${banner}</span>`,
  });
const DEFAULTS = decided('Welcome', null, 'Free shipping over $50', null);

const PAGES = {
  '/': shopPage(),
  '/pricing': shopPage({ meta: false }),
  '/plain': '<!doctype html><p>no slots here &amp; nothing to do</p>\n',
  '/data.json': { headers: { 'content-type': 'application/json' }, body: '{"a":1}' },
  '/moved': { status: 302, headers: { location: '/' }, body: '' },
  '/gone': { status: 410, body: shopPage() },
};

let data; // its data directory
let server; // a real pz-server with BUNDLE
let rec; // the recording proxy in front of it
let origin;
let edge; // workerd: server = rec, origin = origin
let core;

before(async () => {
  data = tempDir();
  const bundleFile = path.join(data, 'edge-bundle.json');
  fs.writeFileSync(bundleFile, BUNDLE);
  server = await startServer({ data, bundle: bundleFile });
  rec = await startRecorder(server.url);
  origin = await startOrigin(PAGES);
  edge = await startWorkerd({
    bindings: {
      PZ_ORIGIN: origin.url,
      PZ_SERVER: rec.url,
      PZ_BUDGET_MS: BUDGET,
      PZ_SLOTS: '',
      PZ_CACHE_TTL_MS: 5000,
    },
  });
  core = await loadCore(fs.readFileSync(PZ_WASM));
});
after(async () => {
  await edge?.stop();
  await origin?.stop();
  await rec?.stop();
  await server?.stop();
  if (data) fs.rmSync(data, { recursive: true, force: true });
});

/** Requests the server saw that carry `id` anywhere (path, headers or body). */
const carrying = (id) =>
  rec.requests.filter((r) => (r.path + JSON.stringify(r.headers) + r.body).includes(id));
const decides = () => rec.requests.filter((r) => r.path === '/v1/decide');

/** Syncs a profile that is in high_intent (3 pricing views and an add to cart, just now). */
async function highIntentProfile(id) {
  const e = core.engine();
  const val = (r) => {
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const t = Date.now() - 60000;
  val(e.loadBundle(BUNDLE));
  val(e.setIds({ anonymous_id: id, device_id: uid('dev') }));
  val(e.consent({ analytics: true, personalization: true }, t));
  for (let i = 0; i < 3; i++) {
    val(e.ingest({ type: 'page_view', t: t + i * 1000, page: { path: '/pricing' } }));
  }
  val(e.ingest({ type: 'add_to_cart', t: t + 5000 }));
  assert.deepEqual(val(e.segments()).includes('high_intent'), true);
  const res = await fetch(server.url + '/v1/sync', {
    method: 'POST',
    headers: { authorization: 'Bearer pk_demo', 'content-type': 'application/json' },
    body: JSON.stringify({ id, ...val(e.syncRequest(null)) }),
  });
  assert.equal(res.status, 200);
  e.free();
}

describe('pages', () => {
  test('no consent: context-only defaults in the slots, every other byte as the origin sent it', async () => {
    rec.reset();
    const r = await get(edge.url + '/');
    assert.equal(r.status, 200);
    assert.equal(r.text, DEFAULTS);
    // The slot's first bytes are the decided content: no default markup that is swapped later.
    assert.ok(r.text.includes('data-pz-decided=""><h1 data-pz-field="title">Welcome</h1>'));
    assert.ok(!r.text.includes('Hello there'));
    assert.equal(r.headers.get('set-cookie'), null);
    assert.equal(r.headers.get('etag'), null);
    assert.equal(r.headers.get('cache-control'), 'private, no-cache');
    assert.match(r.headers.get('content-type'), /^text\/html/);
    // The server was asked for the bundle only; nothing about the visitor went anywhere.
    assert.deepEqual(rec.requests.map((q) => q.path), ['/v1/bundle']);
    assert.equal(rec.requests[0].headers.cookie, undefined);
  });

  test('slots without a <meta name="pz-slots"> are found while the page streams', async () => {
    const r = await get(edge.url + '/pricing');
    assert.equal(r.text, decided('Welcome', null, 'Free shipping over $50', null, { meta: false }));
  });

  test('a denied consent cookie: the same as none; an old id cookie is deleted, never sent', async () => {
    rec.reset();
    const old = uid('old');
    const r = await get(edge.url + '/', { cookies: { pz_consent: DENIED, pz_id: old } });
    assert.equal(r.text, DEFAULTS);
    assert.match(r.headers.get('set-cookie'), /^pz_id=; Path=\/; Max-Age=0; SameSite=Lax$/);
    assert.deepEqual(carrying(old), []);
    assert.deepEqual(decides(), []);
  });

  test('an unreadable consent cookie, or one the core rejects, counts as no consent', async () => {
    rec.reset();
    for (const bad of ['%7Bnot-json', consentCookie({ personalization: true, extra: 1 }), '[true]']) {
      const r = await get(edge.url + '/', { cookies: { pz_consent: bad, pz_id: 'x-1' } });
      assert.equal(r.text, DEFAULTS);
      assert.match(r.headers.get('set-cookie'), /^pz_id=; /);
    }
    assert.deepEqual(decides(), []);
  });

  test('Sec-GPC: 1 turns personalization off even with a granting cookie', async () => {
    rec.reset();
    const id = uid('gpc');
    await highIntentProfile(id);
    const r = await get(edge.url + '/', {
      cookies: { pz_consent: GRANTED, pz_id: id },
      headers: { 'sec-gpc': '1' },
    });
    assert.equal(r.text, DEFAULTS);
    assert.match(r.headers.get('set-cookie'), /^pz_id=; /);
    assert.deepEqual(decides(), []);
    assert.deepEqual(carrying(id), []);
  });

  test('consent and a known id: the server decides from the synced profile (high_intent)', async () => {
    rec.reset();
    const id = uid('hi');
    await highIntentProfile(id);
    const iphone = { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148' };
    const r = await get(edge.url + '/', {
      cookies: { pz_consent: GRANTED, pz_id: id },
      headers: iphone,
    });
    assert.equal(r.text, decided('10% off today', 'vip_offer', 'Free shipping over $50', null));
    assert.equal(r.headers.get('set-cookie'), null); // the id cookie is already there
    const d = decides();
    assert.equal(d.length, 1);
    assert.equal(d[0].headers.authorization, 'Bearer pk_demo');
    const body = JSON.parse(d[0].body);
    assert.equal(body.id, id);
    assert.deepEqual(body.slots, ['hero', 'banner']);
    assert.equal(body.page.path, '/');
    assert.deepEqual(body.context, { device: 'mobile' });
    assert.deepEqual(body.consent, { analytics: true, personalization: true, marketing: false });

    // Within the cache TTL the same page in the same context does not ask again; another
    // context (device, locale, geo) does.
    const cookies = { pz_consent: GRANTED, pz_id: id };
    const again = await get(edge.url + '/', { cookies, headers: iphone });
    assert.equal(again.text, r.text);
    assert.equal(decides().length, 1);
    await get(edge.url + '/', { cookies });
    assert.equal(decides().length, 2);
  });

  test('consent without an id: a new id cookie is set, the new visitor is decided locally', async () => {
    rec.reset();
    const r = await get(edge.url + '/', { cookies: { pz_consent: GRANTED } });
    assert.equal(r.text, DEFAULTS);
    const m = /^pz_id=([0-9a-f-]{36}); Path=\/; Max-Age=31536000; SameSite=Lax$/.exec(
      r.headers.get('set-cookie'),
    );
    assert.ok(m, r.headers.get('set-cookie'));
    assert.deepEqual(decides(), []);
  });

  test('server slow: the page comes within the budget with context-only decisions', async () => {
    rec.reset();
    const id = uid('slow');
    await highIntentProfile(id);
    Object.assign(rec.mode, { delay: BUDGET + 2000, delayPath: '/v1/decide' });
    const r = await get(edge.url + '/', { cookies: { pz_consent: GRANTED, pz_id: id } });
    assert.equal(r.text, DEFAULTS);
    assert.ok(r.ms < BUDGET + 500, `answered in ${r.ms} ms, budget ${BUDGET} ms`);
    assert.equal(decides().length, 1);
    rec.reset();
  });

  test('server down: the page comes at once with context-only decisions', async () => {
    rec.reset();
    const id = uid('down');
    await highIntentProfile(id);
    rec.mode.down = true;
    const r = await get(edge.url + '/', { cookies: { pz_consent: GRANTED, pz_id: id } });
    assert.equal(r.text, DEFAULTS);
    assert.ok(r.ms < BUDGET + 500, `answered in ${r.ms} ms`);
    rec.reset();
  });

  test('not a page: JSON, redirects, errors, HEAD, POST and pages without slots pass through', async () => {
    let r = await get(edge.url + '/data.json', { headers: { accept: '*/*' } });
    assert.equal(r.text, '{"a":1}');
    assert.equal(r.headers.get('etag'), '"origin-etag"');
    r = await get(edge.url + '/moved');
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/');
    r = await get(edge.url + '/gone');
    assert.equal(r.status, 410);
    assert.equal(r.text, PAGES['/gone'].body);
    r = await get(edge.url + '/nope');
    assert.equal(r.status, 404);
    r = await get(edge.url + '/', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('etag'), '"origin-etag"');
    r = await get(edge.url + '/', { headers: { accept: 'application/json' } });
    assert.equal(r.text, PAGES['/']);
    r = await get(edge.url + '/plain');
    assert.equal(r.text, PAGES['/plain']);
    // The origin never saw validators on page requests (a rewritten page is new content).
    r = await get(edge.url + '/', { headers: { 'if-none-match': '"origin-etag"' } });
    assert.equal(r.status, 200);
    assert.equal(origin.requests.at(-1).headers['if-none-match'], undefined);
  });
});

describe('no server', () => {
  test('server unreachable and no bundle yet: the page exactly as the origin sent it', async () => {
    const dead = await listen(() => {});
    const port = dead.port;
    dead.server.close();
    const w = await startWorkerd({
      bindings: { PZ_ORIGIN: origin.url, PZ_SERVER: `http://127.0.0.1:${port}`, PZ_BUDGET_MS: 200 },
    });
    try {
      const r = await get(w.url + '/', { cookies: { pz_consent: GRANTED } });
      assert.equal(r.text, PAGES['/']);
      assert.equal(r.headers.get('set-cookie'), null);
      assert.ok(r.ms < 700, `answered in ${r.ms} ms`);
      const b = await get(w.url + '/pz/bundle');
      assert.equal(b.status, 503);
      const c = await get(w.url + '/pz/collect', { method: 'POST', body: '{}' });
      assert.equal(c.status, 502);
    } finally {
      await w.stop();
    }
  });
});

describe('/pz/* endpoints', () => {
  const post = (p, body, headers = {}) =>
    get(edge.url + p, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  test('/pz/collect and /pz/v1/collect forward to /v1/collect with the write key', async () => {
    rec.reset();
    const anon = uid('c');
    const ev = (n) => ({ id: uid('ev'), type: 'page_view', t: Date.now(), page: { path: `/${n}` } });
    let r = await post('/pz/collect', { anonymous_id: anon, events: [ev(1)] },
      { authorization: 'Bearer pk_someone_else' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { accepted: 1, duplicates: 0, rejected: [] });
    r = await post('/pz/v1/collect?key=pk_x', { anonymous_id: anon, events: [ev(2)] });
    assert.equal(r.status, 200, r.text);
    const seen = rec.requests.filter((q) => q.path === '/v1/collect');
    assert.equal(seen.length, 2);
    for (const q of seen) assert.equal(q.headers.authorization, 'Bearer pk_demo');
  });

  test('forwarded errors keep their status; limits, methods and cross-origin calls are refused', async () => {
    rec.reset();
    let r = await post('/pz/collect', '{"anonymous_id": ');
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.text).error, 'invalid_json');
    r = await post('/pz/collect', 'x'.repeat(600 * 1024));
    assert.equal(r.status, 413);
    assert.equal(JSON.parse(r.text).error, 'too_large');
    r = await get(edge.url + '/pz/collect');
    assert.equal(r.status, 405);
    r = await post('/pz/sync', {}, { origin: 'https://evil.example' });
    assert.equal(r.status, 403);
    r = await get(edge.url + '/pz/unknown');
    assert.equal(r.status, 404);
    r = await post('/pz/_test/simulate', {});
    assert.equal(r.status, 404); // test routes are off unless PZ_TEST_ROUTES=1
    // Only the malformed collect reached the server.
    assert.deepEqual(rec.requests.map((q) => q.path), ['/v1/collect']);
  });

  test('/pz/sync and /pz/identify forward; the synced profile is the server\'s', async () => {
    rec.reset();
    const anon = uid('s');
    const user = uid('u');
    const e = core.engine();
    e.loadBundle(BUNDLE);
    e.setIds({ anonymous_id: anon, device_id: uid('dev') });
    e.consent({ personalization: true }, Date.now());
    e.ingest({ type: 'page_view', t: Date.now(), page: { path: '/pricing' } });
    let r = await post('/pz/sync', { id: anon, ...e.syncRequest(null).value });
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).id, anon);
    e.free();
    r = await post('/pz/identify', { anonymous_id: anon, user_id: user });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { id: user, merged: true });
    assert.deepEqual(
      rec.requests.map((q) => [q.path, q.headers.authorization]),
      [
        ['/v1/sync', 'Bearer pk_demo'],
        ['/v1/identify', 'Bearer pk_demo'],
      ],
    );
  });

  test('/pz/bundle: the server\'s bundle and ETag, 304 on If-None-Match, served from cache', async () => {
    const direct = await fetch(server.url + '/v1/bundle', {
      headers: { authorization: 'Bearer pk_demo' },
    });
    const etag = direct.headers.get('etag');
    const text = await direct.text();
    rec.reset();
    let r = await get(edge.url + '/pz/bundle');
    assert.equal(r.status, 200);
    assert.equal(r.text, text);
    assert.equal(r.headers.get('etag'), etag);
    assert.equal(r.headers.get('content-type'), 'application/json');
    r = await get(edge.url + '/pz/v1/bundle', { headers: { 'if-none-match': etag } });
    assert.equal(r.status, 304);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('etag'), etag);
    // Fetched once at first use (by the first page), kept for PZ_BUNDLE_TTL_MS.
    assert.deepEqual(rec.requests, []);
  });
});
