// Consent gating with the real core: in opt-in mode nothing is written to any storage and
// nothing is sent before consent; writes start with personalization consent; withdrawal erases
// the stored keys and the profile and brings a new anonymous id; a stored profile is restored on
// the next page. And the adapters: GPC, IAB TCF v2.2 (a fake __tcfapi with real TC strings from
// @iabtcf/core), Google Consent Mode v2 through dataLayer, each of them off-able.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Segment, SegmentEncoder, TCModel } from '@iabtcf/core';
import {
  DEMO_BUNDLE,
  bundleRoute,
  captureWarnings,
  demoBundle,
  fakeFetch,
  listen,
  memStorage,
  page,
  runtime,
  sleep,
  spyStorage,
} from './runtime_harness.test.mjs';

const BUNDLE_URL = 'https://cdn.example/bundle.json';
const HERO = '<div data-pz-slot="hero"><h1 data-pz-field="title">Default</h1></div>';

/** A TC string (core segment) with consent to exactly `purposes`. */
function tcString(purposes) {
  const m = new TCModel();
  m.cmpId = 10;
  m.cmpVersion = 1;
  m.consentScreen = 1;
  m.consentLanguage = 'EN';
  m.vendorListVersion = 100;
  m.policyVersion = 5;
  m.publisherCountryCode = 'DE';
  m.created = m.lastUpdated = new Date(Date.UTC(2026, 10, 1));
  m.purposeConsents.set(purposes);
  return SegmentEncoder.encode(m, Segment.CORE);
}

/** gtag() as sites define it: pushes its `arguments` object. */
const gtagArgs = function () {
  return arguments;
};

/** Visits /pricing 3 times and adds to cart: enough for high_intent when the profile is kept. */
async function highIntent(pz, clock) {
  for (let i = 0; i < 3; i++) {
    clock.tick(60_000);
    pz.page();
  }
  pz.track('add_to_cart', { sku: 'shoe-1' });
  await pz.flush();
}

test('opt-in: zero storage writes and nothing sent before consent; writes after; erasure on withdrawal', async () => {
  const pg = page(HERO, { url: 'https://shop.example/pricing' });
  const writes = spyStorage(pg.win);
  const f = fakeFetch({ [BUNDLE_URL]: bundleRoute(DEMO_BUNDLE, '"v1"') });
  const { pz, clock } = runtime(pg, {
    storage: undefined,
    bundleUrl: BUNDLE_URL,
    fetch: f,
    persistDelay: 100,
  });
  const consents = listen(pz, 'consent');
  await highIntent(pz, clock);
  pz.identify('user-1', { plan: 'pro' });
  pz.feedback('vip_offer', 'impression');
  await pz.decide(['hero', 'banner']);
  await sleep(200); // longer than the persist delay
  await pz.flush();
  assert.deepEqual(writes, [], 'no write of any kind before consent');
  assert.equal(pg.win.localStorage.length, 0);
  assert.equal(pg.doc.cookie, '');
  assert.deepEqual(
    f.requests.map((r) => [r.method, r.url, r.body, r.headers['if-none-match']]),
    [['GET', BUNDLE_URL, undefined, undefined]],
    'only the bundle was fetched: no visitor data sent',
  );
  const before = await pz.profile();
  assert.equal(before.first_seen, null, 'nothing kept about the visitor');
  assert.deepEqual(before.segments, []);
  assert.equal(consents.length, 1);
  assert.equal(consents[0].given, false);

  // Personalization consent: the profile, the ids and the bundle cache are written.
  pz.consent({ analytics: true, personalization: true, marketing: false });
  await highIntent(pz, clock);
  assert.deepEqual(consents.at(-1), {
    necessary: true,
    analytics: true,
    personalization: true,
    marketing: false,
    given: true,
  });
  assert.ok(writes.length > 0);
  // localStorage, and the id cookie an edge worker shares (first-party, the anonymous id only).
  assert.ok(
    writes.every(
      (w) =>
        (w[0] === 'localStorage' && w[1] === 'setItem') ||
        (w[0] === 'cookie' && w[2].startsWith('pz_id=')),
    ),
    JSON.stringify(writes),
  );
  const saved = JSON.parse(pg.win.localStorage.getItem('pz'));
  const prof = await pz.profile();
  assert.equal(saved.a, prof.anonymous_id);
  assert.equal(pg.doc.cookie, 'pz_id=' + prof.anonymous_id);
  assert.ok(saved.d);
  assert.deepEqual(saved.s.consent[0].personalization, true);
  assert.equal(saved.s.components[0].metrics[0][0], 'pricing_views');
  const cache = JSON.parse(pg.win.localStorage.getItem('pz.b'));
  assert.equal(cache.e, '"v1"');
  assert.equal(JSON.parse(cache.b).version, JSON.parse(DEMO_BUNDLE).version);
  assert.ok(prof.segments.includes('high_intent'));

  // Debounced: a burst of events is one write.
  const n = writes.length;
  for (let i = 0; i < 5; i++) pz.track('add_to_cart', { i });
  await sleep(300);
  assert.equal(writes.length - n, 1, JSON.stringify(writes.slice(n)));

  // Withdrawal: stored keys removed, profile erased, a new anonymous id, no more writes.
  const segs = listen(pz, 'segment');
  pz.consent({ personalization: false });
  await pz.flush();
  assert.equal(pg.win.localStorage.getItem('pz'), null);
  assert.equal(pg.win.localStorage.getItem('pz.b'), null);
  assert.equal(pg.win.localStorage.length, 0);
  assert.equal(pg.doc.cookie, '', 'the id cookie is removed');
  const erased = await pz.profile();
  assert.notEqual(erased.anonymous_id, prof.anonymous_id);
  assert.equal(erased.first_seen, null);
  assert.equal(erased.metrics.pricing_views.total, 0);
  assert.equal(erased.user_id, null);
  assert.deepEqual(erased.segments, []);
  assert.ok(erased.erased_at > 0);
  assert.ok(
    segs.some((s) => s.exited.includes('high_intent')),
    JSON.stringify(segs),
  );
  assert.equal(consents.at(-1).personalization, false);
  const m = writes.length;
  await highIntent(pz, clock);
  await sleep(200);
  assert.equal(writes.length, m, 'no write after withdrawal');
  pg.win.close();
});

test('a stored profile is restored on the next page (mergeState after setIds) and decides at once', async () => {
  const storage = memStorage();
  const pg1 = page(HERO, { url: 'https://shop.example/pricing' });
  const a = runtime(pg1, { storage });
  a.pz.consent({ personalization: true });
  await highIntent(a.pz, a.clock);
  const p1 = await a.pz.profile();
  pg1.win.close();

  const pg2 = page(HERO, { url: 'https://shop.example/' });
  const b = runtime(pg2, { storage, clock: a.clock });
  const consents = listen(b.pz, 'consent');
  await b.pz.flush();
  const p2 = await b.pz.profile();
  assert.equal(p2.anonymous_id, p1.anonymous_id);
  assert.equal(p2.consent.personalization, true);
  assert.equal(consents[0].personalization, true);
  assert.equal(p2.metrics.pricing_views.total, 3);
  assert.ok(p2.segments.includes('high_intent'));
  assert.equal(
    pg2.doc.querySelector('h1').textContent,
    '10% off today',
    'personalized on the first view',
  );
  pg2.win.close();
});

test("opt-out bundles persist from the start; consent.mode is the bundle's", async () => {
  const storage = memStorage();
  const pg = page(HERO);
  const { pz } = runtime(pg, { storage, bundle: demoBundle({ consent: { mode: 'opt-out' } }) });
  await pz.flush();
  assert.ok(storage.getItem('pz'));
  assert.equal((await pz.profile()).consent.personalization, true);
  pg.win.close();
});

test('GPC: personalization and marketing off, even when a banner grants them; off-able', async () => {
  const pg = page(HERO);
  Object.defineProperty(pg.win.navigator, 'globalPrivacyControl', { value: true });
  const storage = memStorage();
  const { pz } = runtime(pg, { storage });
  const consents = listen(pz, 'consent');
  pz.consent({ analytics: true, personalization: true, marketing: true });
  await pz.flush();
  assert.deepEqual(consents.at(-1), {
    necessary: true,
    analytics: true,
    personalization: false,
    marketing: false,
    given: true,
  });
  assert.deepEqual(storage.writes, []);
  pg.win.close();

  const pg2 = page(HERO);
  Object.defineProperty(pg2.win.navigator, 'globalPrivacyControl', { value: true });
  const r2 = runtime(pg2, { consentAdapters: { gpc: false } });
  r2.pz.consent({ personalization: true });
  await r2.pz.flush();
  assert.equal((await r2.pz.profile()).consent.personalization, true);
  pg2.win.close();
});

test('GPC on a later visit withdraws a stored consent and erases the stored profile', async () => {
  const storage = memStorage();
  const pg1 = page(HERO, { url: 'https://shop.example/pricing' });
  const a = runtime(pg1, { storage });
  a.pz.consent({ personalization: true });
  await highIntent(a.pz, a.clock);
  assert.ok(storage.getItem('pz'));
  pg1.win.close();

  const pg2 = page(HERO);
  Object.defineProperty(pg2.win.navigator, 'globalPrivacyControl', { value: true });
  const b = runtime(pg2, { storage, clock: a.clock });
  await b.pz.flush();
  assert.equal(storage.getItem('pz'), null);
  assert.equal(storage.getItem('pz.b'), null);
  const p = await b.pz.profile();
  assert.equal(p.consent.personalization, false);
  assert.equal(p.metrics.pricing_views.total, 0);
  pg2.win.close();
});

test('TCF v2.2: tcloaded with purposes 1,5,6 grants personalization; a later choice without 6 withdraws', async () => {
  const pg = page(HERO, { url: 'https://shop.example/pricing' });
  const calls = [];
  let cmpCallback;
  pg.win.__tcfapi = (cmd, version, cb) => {
    calls.push([cmd, version]);
    cmpCallback = cb;
    cb(
      {
        eventStatus: 'cmpuishown',
        gdprApplies: true,
        tcString: tcString([1, 5, 6]),
        listenerId: 1,
      },
      true,
    );
    cb(
      {
        eventStatus: 'tcloaded',
        gdprApplies: true,
        tcString: tcString([1, 5, 6, 8]),
        listenerId: 1,
      },
      true,
    );
  };
  const storage = memStorage();
  const { pz, clock } = runtime(pg, { storage });
  const consents = listen(pz, 'consent');
  await highIntent(pz, clock);
  assert.deepEqual(calls, [['addEventListener', 2]]);
  assert.deepEqual(
    consents.map((c) => [c.personalization, c.analytics, c.marketing]),
    [
      [false, false, false],
      [true, true, false],
    ],
    'cmpuishown is not a decision; tcloaded is',
  );
  assert.ok(storage.getItem('pz'));
  assert.ok((await pz.profile()).segments.includes('high_intent'));

  cmpCallback(
    {
      eventStatus: 'useractioncomplete',
      gdprApplies: true,
      tcString: tcString([1, 5]),
      listenerId: 1,
    },
    true,
  );
  await pz.flush();
  assert.equal(consents.at(-1).personalization, false);
  assert.equal(storage.getItem('pz'), null);
  assert.deepEqual((await pz.profile()).segments, []);
  pg.win.close();
});

test('TCF: gdprApplies false is no TCF signal; the adapter can be turned off', async () => {
  for (const [gdprApplies, adapters] of [
    [false, undefined],
    [true, { tcf: false }],
  ]) {
    const pg = page(HERO);
    let asked = 0;
    pg.win.__tcfapi = (cmd, version, cb) => {
      asked++;
      cb({ eventStatus: 'tcloaded', gdprApplies, tcString: tcString([1, 5, 6]) }, true);
    };
    const storage = memStorage();
    const { pz } = runtime(pg, { storage, consentAdapters: adapters });
    await pz.flush();
    const c = (await pz.profile()).consent;
    assert.equal(c.given, false, `gdprApplies=${gdprApplies}`);
    assert.equal(c.personalization, false);
    assert.equal(asked, adapters ? 0 : 1);
    assert.deepEqual(storage.writes, []);
    pg.win.close();
  }
});

test('Consent Mode v2: gtag default and later updates from dataLayer, in order', async () => {
  const pg = page(HERO);
  pg.win.dataLayer = [
    { event: 'gtm.js' },
    gtagArgs('consent', 'default', {
      ad_storage: 'denied',
      ad_user_data: 'denied',
      ad_personalization: 'denied',
      analytics_storage: 'denied',
      personalization_storage: 'denied',
      wait_for_update: 500,
      region: ['DE'],
    }),
    ['consent', 'update', { personalization_storage: 'granted' }], // an array is not a gtag command
    gtagArgs('config', 'G-1'),
  ];
  const storage = memStorage();
  const { pz } = runtime(pg, { storage });
  const consents = listen(pz, 'consent');
  await pz.flush();
  assert.deepEqual(
    consents.map((c) => c.given),
    [false, true],
  );
  assert.equal(consents.at(-1).personalization, false);
  assert.deepEqual(storage.writes, []);

  pg.win.dataLayer.push(
    gtagArgs('consent', 'update', {
      analytics_storage: 'granted',
      personalization_storage: 'granted',
    }),
  );
  await pz.flush();
  assert.deepEqual(consents.at(-1), {
    necessary: true,
    analytics: true,
    personalization: true,
    marketing: false,
    given: true,
  });
  assert.ok(storage.getItem('pz'));
  // Marketing needs all three ad states; they accumulate across commands.
  pg.win.dataLayer.push(
    gtagArgs('consent', 'update', { ad_storage: 'granted', ad_user_data: 'granted' }),
  );
  pg.win.dataLayer.push(
    { event: 'other' },
    gtagArgs('consent', 'update', { ad_personalization: 'granted' }),
  );
  await pz.flush();
  assert.equal(consents.at(-1).marketing, true);
  assert.equal(pg.win.dataLayer.length, 8, 'pushes still land in dataLayer');
  pg.win.dataLayer.push(gtagArgs('consent', 'update', { personalization_storage: 'denied' }));
  await pz.flush();
  assert.equal(consents.at(-1).personalization, false);
  assert.equal(storage.getItem('pz'), null);
  pg.win.close();
});

test('Consent Mode adapter off: dataLayer untouched; all adapters off with consentAdapters:false', async () => {
  const pg = page(HERO);
  const dl = [gtagArgs('consent', 'default', { personalization_storage: 'granted' })];
  const push = dl.push;
  pg.win.dataLayer = dl;
  Object.defineProperty(pg.win.navigator, 'globalPrivacyControl', { value: true });
  const { pz } = runtime(pg, { consentAdapters: false });
  await pz.flush();
  assert.equal(pg.win.dataLayer.push, push);
  const c = (await pz.profile()).consent;
  assert.equal(c.given, false);
  pz.consent({ personalization: true });
  await pz.flush();
  assert.equal((await pz.profile()).consent.personalization, true, 'GPC adapter off too');
  pg.win.close();
});

test('a corrupt stored profile is reported and removed; the runtime still starts', async () => {
  const storage = memStorage({
    pz: JSON.stringify({ a: 'anon-1', d: 'dev-1', s: { v: 99 } }),
    'pz.b': '{not json',
  });
  const pg = page(HERO);
  const errors = [];
  await captureWarnings(async () => {
    const { pz } = runtime(pg, { storage });
    pz.on('error', (e) => errors.push(e));
    await pz.flush();
    assert.equal(pg.doc.querySelector('h1').textContent, 'Welcome');
    assert.equal((await pz.profile()).anonymous_id, 'anon-1', 'the stored ids are still used');
  });
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.equal(storage.getItem('pz'), null);
  assert.equal(storage.getItem('pz.b'), null);
  pg.win.close();
});

test('an id cookie set by an edge worker becomes the anonymous id; idCookie: false ignores it', async () => {
  const pg = page('', { url: 'https://shop.example/' });
  pg.doc.cookie = 'pz_id=edge-visitor-1; Path=/';
  const { pz } = runtime(pg, { bundle: demoBundle({ consent: { mode: 'opt-out' } }) });
  await pz.flush();
  assert.equal((await pz.profile()).anonymous_id, 'edge-visitor-1');
  const other = page('', { url: 'https://shop.example/' });
  other.doc.cookie = 'pz_id=edge-visitor-2; Path=/';
  const r2 = runtime(other, {
    bundle: demoBundle({ consent: { mode: 'opt-out' } }),
    idCookie: false,
  });
  await r2.pz.flush();
  assert.notEqual((await r2.pz.profile()).anonymous_id, 'edge-visitor-2');
  pg.win.close();
  other.win.close();
});
