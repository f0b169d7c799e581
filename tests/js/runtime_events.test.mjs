// The runtime's events and API with the real wasm core on a jsdom page: autocapture (page views
// on load and on SPA navigation, data-pz-event clicks), the event shape fed to the core,
// on('segment'|'decision'|'error'), identify, profile() and reset(), and that nothing throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  T0,
  captureWarnings,
  listen,
  memStorage,
  page,
  runtime,
  spyIngest,
} from './runtime_harness.test.mjs';

const PRICING = 'https://shop.example/pricing';

test('a page view on load with {type,t,id,props,page}; SPA pushState/popstate add page views', async () => {
  const log = spyIngest();
  try {
    const pg = page('<div data-pz-slot="hero"><h1 data-pz-field="title">Hi</h1></div>', {
      url: PRICING + '?a=1',
      referrer: 'https://search.example/q',
    });
    const { pz, clock } = runtime(pg);
    await pz.flush();
    assert.equal(log.length, 1);
    const ev = log[0];
    assert.equal(ev.type, 'page_view');
    assert.equal(ev.t, T0);
    assert.match(ev.id, /^[0-9a-f-]{32,36}$/);
    assert.deepEqual(ev.props, {});
    assert.deepEqual(ev.page, {
      url: PRICING + '?a=1',
      path: '/pricing',
      referrer: 'https://search.example/q',
      title: 'Shop',
    });

    clock.tick(1000);
    pg.win.history.pushState({}, '', '/shop/running-shoes');
    await pz.flush();
    assert.equal(log.length, 2);
    assert.equal(log[1].type, 'page_view');
    assert.equal(log[1].t, T0 + 1000);
    assert.equal(log[1].page.path, '/shop/running-shoes');
    assert.equal(log[1].page.referrer, PRICING + '?a=1', 'an SPA view refers to the previous URL');
    assert.notEqual(log[1].id, log[0].id);

    // replaceState without a URL change is not a page view; with one it is.
    pg.win.history.replaceState({ x: 1 }, '');
    await pz.flush();
    assert.equal(log.length, 2);
    pg.win.history.replaceState({}, '', '/pricing?b');
    await pz.flush();
    assert.equal(log.length, 3);
    assert.equal(log[2].page.path, '/pricing');

    // Back: popstate after the URL changed.
    const popped = new Promise((r) => pg.win.addEventListener('popstate', r, { once: true }));
    pg.win.history.back();
    await popped; // jsdom fires popstate asynchronously; the runtime's listener ran first
    await pz.flush();
    assert.equal(log.length, 4);
    assert.equal(
      log[3].page.url,
      PRICING + '?a=1',
      'back to the first entry (the second was replaced)',
    );
    pg.win.close();
  } finally {
    log.restore();
  }
});

test('clicks on [data-pz-event] are tracked with data-pz-props; bad JSON warns, never throws', async () => {
  const log = spyIngest();
  try {
    const pg = page(`
      <button id="b1" data-pz-event="add_to_cart" data-pz-props='{"sku":"shoe-1","qty":2}'><span id="inner">Add</span></button>
      <button id="b2" data-pz-event="wishlist" data-pz-props="{not json">Wish</button>
      <button id="b3" data-pz-event="share" data-pz-props="[1,2]">Share</button>
      <button id="plain">Plain</button>`);
    const { pz } = runtime(pg);
    await pz.flush();
    const warnings = await captureWarnings(async () => {
      pg.doc.getElementById('inner').click(); // a click inside the element counts
      assert.doesNotThrow(() => pg.doc.getElementById('b2').click());
      pg.doc.getElementById('b3').click();
      pg.doc.getElementById('plain').click();
      await pz.flush();
    });
    const clicks = log.filter((e) => e.type !== 'page_view');
    assert.deepEqual(
      clicks.map((e) => [e.type, e.props]),
      [
        ['add_to_cart', { sku: 'shoe-1', qty: 2 }],
        ['wishlist', {}],
        ['share', {}],
      ],
    );
    assert.equal(clicks[0].page.path, '/');
    assert.equal(warnings.filter((w) => /data-pz-props/.test(w)).length, 2, warnings.join('\n'));
    pg.win.close();
  } finally {
    log.restore();
  }
});

test('autocapture can be turned off: no page view, no click events, slots still decided', async () => {
  const log = spyIngest();
  try {
    const pg = page(
      '<div data-pz-slot="hero"><b data-pz-field="title">x</b></div><a id="a" data-pz-event="promo">p</a>',
    );
    const { pz } = runtime(pg, { autocapture: { pageViews: false, clicks: false } });
    const decisions = listen(pz, 'decision');
    await pz.flush();
    pg.doc.getElementById('a').click();
    pg.win.history.pushState({}, '', '/pricing');
    await pz.flush();
    assert.equal(log.length, 0);
    assert.equal(decisions.length, 1);
    assert.equal(pg.doc.querySelector('b').textContent, 'Welcome');
    // Manual calls still work.
    pz.page();
    pz.track('add_to_cart', { sku: 'x' });
    await pz.flush();
    assert.deepEqual(
      log.map((e) => e.type),
      ['page_view', 'add_to_cart'],
    );
    pg.win.close();
  } finally {
    log.restore();
  }
});

test("on(segment) carries the engine's {entered, exited}; on(decision) each slot decision", async () => {
  const pg = page('<div data-pz-slot="hero"><h1 data-pz-field="title">Hello</h1></div>', {
    url: PRICING,
  });
  const { pz, clock } = runtime(pg);
  const segs = listen(pz, 'segment');
  const decisions = listen(pz, 'decision');
  const consents = listen(pz, 'consent');
  pz.consent({ personalization: true });
  await pz.flush();
  assert.equal(consents.at(-1).personalization, true);
  // The page view before consent kept nothing (opt-in); two more pricing views and a cart add.
  for (let i = 0; i < 3; i++) {
    clock.tick(60_000);
    pz.page();
  }
  clock.tick(1000);
  pz.track('add_to_cart', { sku: 'shoe-1' });
  await pz.flush();
  const entered = segs.flatMap((s) => s.entered);
  assert.ok(entered.includes('engaged') && entered.includes('high_intent'), JSON.stringify(segs));
  for (const s of segs) assert.deepEqual(Object.keys(s).sort(), ['entered', 'exited']);
  // decide() resolves with the decisions and renders them.
  const d = await pz.decide(['hero']);
  assert.deepEqual(d, [{ slot: 'hero', action: 'vip_offer', content: { title: '10% off today' } }]);
  assert.equal(pg.doc.querySelector('h1').textContent, '10% off today');
  assert.deepEqual(decisions.at(-1), d[0]);
  assert.equal(decisions[0].slot, 'hero');
  assert.equal(decisions[0].action, null, 'the first view decided the default');
  const p = await pz.profile();
  assert.deepEqual(p.segments, ['engaged', 'high_intent', 'new']);
  assert.equal(p.metrics.pricing_views.total, 3);
  assert.equal(p.consent.personalization, true);
  pg.win.close();
});

test('identify sets the user id and traits; reset() erases them and uses a new anonymous id', async () => {
  const pg = page('', { url: PRICING });
  const storage = memStorage();
  const { pz } = runtime(pg, { storage });
  pz.consent({ personalization: true });
  pz.page();
  pz.identify('user-1', { plan: 'pro' });
  await pz.flush();
  const before = await pz.profile();
  assert.equal(before.user_id, 'user-1');
  assert.deepEqual(before.traits, { plan: 'pro' });
  assert.equal(JSON.parse(storage.getItem('pz')).a, before.anonymous_id);
  const segs = listen(pz, 'segment');
  pz.reset();
  await pz.flush();
  const after = await pz.profile();
  assert.equal(after.user_id, null);
  assert.deepEqual(after.traits, {});
  assert.notEqual(after.anonymous_id, before.anonymous_id);
  assert.equal(after.consent.personalization, true, 'reset keeps the consent state');
  assert.ok(
    segs.some((s) => s.exited.includes('engaged')),
    JSON.stringify(segs),
  );
  // Storage holds the new id and an empty profile.
  const saved = JSON.parse(storage.getItem('pz'));
  assert.equal(saved.a, after.anonymous_id);
  assert.equal(saved.s.user_id, null);
  pg.win.close();
});

test('nothing throws into the page: bad calls report to console.warn and on(error)', async () => {
  const pg = page();
  const { pz } = runtime(pg);
  const errors = listen(pz, 'error');
  const warnings = await captureWarnings(async () => {
    assert.doesNotThrow(() => pz('nonsense', 1));
    assert.doesNotThrow(() => pz(42));
    assert.doesNotThrow(() => pz.track());
    assert.doesNotThrow(() => pz.track('x', 'not an object'));
    assert.doesNotThrow(() => pz.on('bogus', () => {}));
    assert.doesNotThrow(() => pz.feedback('no_such_action', 'click'));
    assert.doesNotThrow(() => pz.consent({ personalization: 'yes' }));
    assert.doesNotThrow(() => pz.init({}));
    pz.on('decision', () => {
      throw new Error('listener bug');
    });
    const r = await pz.decide('hero');
    assert.equal(r.length, 1, 'a throwing listener does not break decide');
    await pz.flush();
  });
  assert.ok(errors.length >= 8, JSON.stringify(errors));
  assert.ok(errors.some((e) => /unknown command nonsense/.test(e)));
  assert.ok(errors.some((e) => /already initialised/.test(e)));
  assert.ok(errors.some((e) => /listener bug/.test(e)));
  assert.ok(errors.some((e) => /consent\.personalization/.test(e)));
  assert.equal(warnings.length, errors.length);
  pg.win.close();
});

test('the runtime works as a callable: pz("track", ...) and queued-style calls', async () => {
  const log = spyIngest();
  try {
    const pg = page();
    const { pz } = runtime(pg);
    pz('track', 'add_to_cart', { sku: 'a' });
    const d = await pz('decide', ['banner']);
    assert.equal(d[0].slot, 'banner');
    await pz.flush();
    assert.deepEqual(
      log.map((e) => e.type),
      ['page_view', 'add_to_cart'],
    );
    pg.win.close();
  } finally {
    log.restore();
  }
});

test('a runtime without a DOM (no document) still decides', async () => {
  const { pz } = runtime({ win: {} }, { storage: null, autocapture: false });
  pz.track('purchase', { value: 2000 });
  const d = await pz.decide(['hero', 'banner']);
  assert.deepEqual(
    d.map((x) => x.slot),
    ['hero', 'banner'],
  );
});
