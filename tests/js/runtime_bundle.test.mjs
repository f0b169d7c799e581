// The bundle and the wasm with the real core: bundleUrl with ETag caching (If-None-Match, 304
// keeps the cached bundle), the last good bundle kept when the network fails or the core rejects
// a bundle (reported to console.warn and on('error')), the inline bundle option, and the wasm
// from bytes, a Module or wasmUrl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEMO,
  WASM_BYTES,
  bundleRoute,
  captureWarnings,
  demoBundle,
  fakeFetch,
  listen,
  memStorage,
  page,
  runtime,
} from './runtime_harness.test.mjs';

const URL_ = 'https://cdn.example/bundle.json';
const HERO = '<div data-pz-slot="hero"><h1 data-pz-field="title">Markup default</h1></div>';
/** The demo bundle with its own version and hero default title. */
const variant = (v, title) =>
  demoBundle({
    version: v,
    defaults: {
      ...DEMO.defaults,
      hero: { content: { title } },
      banner: { content: { title: 'b' } },
    },
  });
const title = (pg) => pg.doc.querySelector('h1').textContent;

test('ETag: the bundle is cached after consent; the next page sends If-None-Match and a 304 keeps the cache', async () => {
  const storage = memStorage();
  const f = fakeFetch({ [URL_]: bundleRoute(variant('v1', 'Hero v1'), '"e1"') });
  const pg1 = page(HERO);
  const a = runtime(pg1, { storage, bundleUrl: URL_, fetch: f });
  a.pz.consent({ personalization: true });
  await a.pz.flush();
  assert.equal(title(pg1), 'Hero v1');
  assert.equal(JSON.parse(storage.getItem('pz.b')).e, '"e1"');
  pg1.win.close();

  const pg2 = page(HERO);
  const b = runtime(pg2, { storage, bundleUrl: URL_, fetch: f });
  await b.pz.flush();
  assert.deepEqual(
    f.requests.map((r) => r.headers['if-none-match']),
    [undefined, '"e1"'],
  );
  assert.equal(title(pg2), 'Hero v1', 'decided with the cached bundle after a 304');
  pg2.win.close();

  // The bundle changed on the server: a 200 with a new ETag replaces the cache.
  f.routes[URL_] = bundleRoute(variant('v2', 'Hero v2'), '"e2"');
  const pg3 = page(HERO);
  const c = runtime(pg3, { storage, bundleUrl: URL_, fetch: f });
  await c.pz.flush();
  assert.equal(f.requests.at(-1).headers['if-none-match'], '"e1"');
  assert.equal(title(pg3), 'Hero v2');
  assert.equal(JSON.parse(storage.getItem('pz.b')).e, '"e2"');
  pg3.win.close();
});

test('offline: a network failure on the next page uses the stored last good bundle and reports', async () => {
  const storage = memStorage();
  const f = fakeFetch({ [URL_]: bundleRoute(variant('v1', 'Hero v1'), '"e1"') });
  const pg1 = page(HERO);
  const a = runtime(pg1, { storage, bundleUrl: URL_, fetch: f });
  a.pz.consent({ personalization: true });
  await a.pz.flush();
  pg1.win.close();

  f.routes[URL_] = () => {
    throw new TypeError('Failed to fetch');
  };
  const pg2 = page(HERO);
  const warnings = await captureWarnings(async () => {
    const b = runtime(pg2, { storage, bundleUrl: URL_, fetch: f });
    const errors = listen(b.pz, 'error');
    await b.pz.flush();
    assert.match(errors.join('\n'), /bundle fetch failed: Failed to fetch/);
  });
  assert.match(warnings.join('\n'), /Failed to fetch/);
  assert.equal(title(pg2), 'Hero v1');
  pg2.win.close();
});

test('refresh(): 304, a network failure, an HTTP error and a rejected bundle all keep the last good one', async () => {
  const storage = memStorage();
  const f = fakeFetch({ [URL_]: bundleRoute(variant('v1', 'Hero v1'), '"e1"') });
  const pg = page(HERO);
  const { pz } = runtime(pg, { storage, bundleUrl: URL_, fetch: f });
  const errors = listen(pz, 'error');
  pz.consent({ personalization: true });
  await pz.flush();
  const hero = async () => (await pz.decide('hero'))[0].content.title;
  assert.equal(await hero(), 'Hero v1');

  assert.equal(await pz.refresh(), true);
  assert.equal(f.requests.at(-1).headers['if-none-match'], '"e1"');
  assert.equal(await hero(), 'Hero v1', '304');

  await captureWarnings(async () => {
    f.routes[URL_] = () => {
      throw new TypeError('Failed to fetch');
    };
    assert.equal(await pz.refresh(), false);
    assert.equal(await hero(), 'Hero v1', 'network failure');

    f.routes[URL_] = () => new Response('oops', { status: 500 });
    assert.equal(await pz.refresh(), false);
    assert.equal(await hero(), 'Hero v1', 'HTTP 500');

    const bad = variant('v3', 'Hero v3');
    bad.segments[0].rule = { fo: [1] };
    f.routes[URL_] = bundleRoute(bad, '"e3"');
    assert.equal(await pz.refresh(), false);
    assert.equal(await hero(), 'Hero v1', 'rejected bundle');
    f.routes[URL_] = bundleRoute('{not json', '"e4"');
    assert.equal(await pz.refresh(), false);
    assert.equal(await hero(), 'Hero v1', 'malformed bundle');
  });
  assert.equal(errors.length, 4, errors.join('\n'));
  assert.match(errors[2], /bundle rejected: .*segments\[0\]\.rule/);
  assert.equal(
    JSON.parse(storage.getItem('pz.b')).e,
    '"e1"',
    'the cache keeps the last good bundle',
  );
  // After the failures a good bundle still loads (the ETag of the last good one is sent).
  f.routes[URL_] = bundleRoute(variant('v5', 'Hero v5'), '"e5"');
  assert.equal(await pz.refresh(), true);
  assert.equal(f.requests.at(-1).headers['if-none-match'], '"e1"');
  assert.equal(await hero(), 'Hero v5');
  assert.equal(JSON.parse(storage.getItem('pz.b')).e, '"e5"');
  pg.win.close();
});

test('the bundle is requested beside the wasm, not after it: the wasm answers only once the bundle was asked for', async () => {
  const WASM_URL = 'https://cdn.example/pz_core.wasm';
  let bundleAsked;
  const asked = new Promise((r) => (bundleAsked = r));
  const serve = bundleRoute(variant('v1', 'Hero v1'), '"e1"');
  const f = fakeFetch({
    [URL_]: (req) => {
      bundleAsked();
      return serve(req);
    },
    // A runtime that fetched the bundle only once the core was ready would wait here forever.
    [WASM_URL]: async () => {
      await asked;
      return new Response(WASM_BYTES, { headers: { 'Content-Type': 'application/wasm' } });
    },
  });
  const pg = page(HERO);
  const { pz } = runtime(pg, { wasm: undefined, wasmUrl: WASM_URL, bundleUrl: URL_, fetch: f });
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('the bundle request waited for the wasm')), 10000);
  });
  await Promise.race([pz.flush(), late]);
  clearTimeout(timer);
  assert.deepEqual(
    f.requests.map((r) => r.url),
    [WASM_URL, URL_],
  );
  assert.equal(title(pg), 'Hero v1');
  pg.win.close();
});

test('bundleResponse: an early request for bundleUrl made by the page is used, and a whole bundle with the held ETag is not loaded again', async () => {
  const storage = memStorage();
  const f = fakeFetch({ [URL_]: bundleRoute(variant('v1', 'Hero v1'), '"e1"') });
  // Cold: nothing stored. The page asked before pz.js loaded; the runtime asks nothing more.
  const pg1 = page(HERO);
  const a = runtime(pg1, { storage, bundleUrl: URL_, fetch: f, bundleResponse: f(URL_) });
  a.pz.consent({ personalization: true });
  await a.pz.flush();
  assert.equal(f.requests.length, 1);
  assert.equal(title(pg1), 'Hero v1');
  assert.equal(JSON.parse(storage.getItem('pz.b')).e, '"e1"');
  pg1.win.close();

  // Warm: the early request has no If-None-Match, so the whole bundle comes back. With the ETag
  // of the stored bundle it is that bundle: not loaded again. (This route answers other bytes
  // under the same ETag, which a server never does, to see that they are not loaded.)
  f.routes[URL_] = bundleRoute(variant('v9', 'Hero v9'), '"e1"');
  const pg2 = page(HERO);
  const b = runtime(pg2, { storage, bundleUrl: URL_, fetch: f, bundleResponse: f(URL_) });
  await b.pz.flush();
  assert.equal(f.requests.length, 2);
  assert.equal(title(pg2), 'Hero v1', 'the stored bundle, not the body sent under its ETag');
  pg2.win.close();

  // A new ETag is a new bundle: loaded and stored.
  f.routes[URL_] = bundleRoute(variant('v2', 'Hero v2'), '"e2"');
  const pg3 = page(HERO);
  const c = runtime(pg3, { storage, bundleUrl: URL_, fetch: f, bundleResponse: f(URL_) });
  await c.pz.flush();
  assert.equal(f.requests.length, 3);
  assert.equal(title(pg3), 'Hero v2');
  assert.equal(JSON.parse(storage.getItem('pz.b')).e, '"e2"');
  pg3.win.close();

  // The early request failed: reported, and the stored bundle decides.
  const pg4 = page(HERO);
  await captureWarnings(async () => {
    const d = runtime(pg4, {
      storage,
      bundleUrl: URL_,
      fetch: f,
      bundleResponse: Promise.reject(new TypeError('Failed to fetch')),
    });
    const errors = listen(d.pz, 'error');
    await d.pz.flush();
    assert.match(errors.join('\n'), /bundle fetch failed: Failed to fetch/);
  });
  assert.equal(title(pg4), 'Hero v2');
  pg4.win.close();
});

test('a 304 for a stored bundle that no longer loads asks again for the whole bundle', async () => {
  // The stored record (from an earlier page) holds a bundle this core rejects, with its ETag.
  const storage = memStorage({
    'pz.b': JSON.stringify({ b: '{"version":"old","segmnets":[]}', e: '"e1"' }),
  });
  const f = fakeFetch({ [URL_]: bundleRoute(variant('v2', 'Hero v2'), '"e1"') });
  const pg = page(HERO);
  await captureWarnings(async () => {
    const { pz } = runtime(pg, { storage, bundleUrl: URL_, fetch: f });
    const errors = listen(pz, 'error');
    await pz.flush();
    assert.match(errors.join('\n'), /bundle rejected: segmnets: unknown field/);
  });
  assert.deepEqual(
    f.requests.map((r) => r.headers['if-none-match']),
    ['"e1"', undefined],
    'first with the stored ETag (sent before the core was ready), then without',
  );
  assert.equal(title(pg), 'Hero v2');
  pg.win.close();
});

test('an inline bundle works alone and is the fallback when bundleUrl fails; a rejected inline bundle is reported', async () => {
  const f = fakeFetch({});
  const pg = page(HERO);
  const warnings = await captureWarnings(async () => {
    const { pz } = runtime(pg, {
      bundle: variant('inline', 'Inline hero'),
      bundleUrl: URL_,
      fetch: f,
    });
    const errors = listen(pz, 'error');
    await pz.flush();
    assert.equal(title(pg), 'Inline hero');
    assert.match(errors.join(), /HTTP 404/);
  });
  assert.equal(warnings.length, 1);
  pg.win.close();

  const pg2 = page(HERO);
  await captureWarnings(async () => {
    const { pz } = runtime(pg2, { bundle: { version: 'x', segmnets: [] } });
    const errors = listen(pz, 'error');
    await pz.flush();
    assert.match(errors.join('\n'), /bundle rejected: segmnets: unknown field/);
    assert.match(errors.join('\n'), /no bundle/);
    assert.equal(await pz.decide('hero'), undefined, 'no engine: calls resolve to undefined');
  });
  assert.equal(title(pg2), 'Markup default');
  pg2.win.close();
});

test('the wasm loads from bytes, from a Module, from wasmUrl and from a response the page asked for (streamed)', async () => {
  const f = fakeFetch({
    'https://cdn.example/pz_core.wasm': () =>
      new Response(WASM_BYTES, { headers: { 'Content-Type': 'application/wasm' } }),
  });
  for (const opts of [
    { wasm: new Uint8Array(WASM_BYTES) },
    {
      wasm: WASM_BYTES.buffer.slice(
        WASM_BYTES.byteOffset,
        WASM_BYTES.byteOffset + WASM_BYTES.length,
      ),
    },
    { wasm: undefined, wasmUrl: 'https://cdn.example/pz_core.wasm', fetch: f },
    // The page's own early request (init's wasm: fetch(url), made before pz.js loaded).
    { wasm: f('https://cdn.example/pz_core.wasm') },
  ]) {
    const pg = page(HERO);
    const { pz } = runtime(pg, opts);
    await pz.flush();
    assert.equal(title(pg), 'Welcome', JSON.stringify(Object.keys(opts)));
    pg.win.close();
  }
  assert.equal(f.requests.length, 2);
});
