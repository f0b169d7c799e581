// Slots: the DOM helpers (js/src/runtime/dom.mjs) on their own — sanitizer, URL and attribute
// allowlists, the content forms — and then the runtime with the real core rendering bundle
// content (text, fields, sanitized html, attrs, template), a malicious bundle that must never
// execute in a page that runs scripts, and impressions/clicks reported once per view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { okAttr, render, safeUrl, sanitize } from '../../js/src/runtime/dom.mjs';
import { listen, memStorage, page, runtime, spyFeedback } from './runtime_harness.test.mjs';

const html = (frag) => {
  const d = frag.ownerDocument.createElement('div');
  d.append(frag);
  return d.innerHTML;
};

test('safeUrl: relative and http(s) only', () => {
  for (const u of [
    '/a',
    'a/b',
    '?q=1',
    '#x',
    'https://x.example/',
    'HTTP://x',
    '//cdn.example/x.png',
    '/p?u=javascript:1',
    '',
  ]) {
    assert.equal(safeUrl(u), true, u);
  }
  for (const u of [
    'javascript:alert(1)',
    ' JavaScript:alert(1)',
    'java\tscript:x',
    'java\nscript:x',
    '\x01javascript:x',
    'data:text/html,<script>',
    'DATA:image/png;base64,AAA',
    'vbscript:x',
    'mailto:a@b',
    'ftp://x',
    'blob:x',
  ]) {
    assert.equal(safeUrl(u), false, JSON.stringify(u));
  }
});

test('okAttr: the slot attribute allowlist', () => {
  for (const [n, v] of [
    ['class', 'x'],
    ['alt', 'x'],
    ['title', 'x'],
    ['aria-label', 'x'],
    ['data-sku', '1'],
    ['href', '/x'],
    ['src', 'https://x/y.png'],
  ])
    assert.ok(okAttr(n, v), n);
  for (const [n, v] of [
    ['onclick', 'x'],
    ['onerror', 'x'],
    ['style', 'x'],
    ['id', 'x'],
    ['name', 'x'],
    ['data-pz-slot', 'x'],
    ['data-pz-event', 'x'],
    ['href', 'javascript:x'],
    ['src', 'data:x'],
    ['srcdoc', 'x'],
    ['formaction', '/x'],
    ['width', '1'],
    ['target', '_blank'],
  ])
    assert.ok(!okAttr(n, v), n);
  assert.ok(
    okAttr('width', '1', true) && okAttr('target', '_blank', true) && okAttr('cite', '/x', true),
  );
  assert.ok(!okAttr('cite', 'javascript:x', true) && !okAttr('onload', 'x', true));
});

test('sanitize: drops dangerous elements with their content, handlers, bad URLs; unwraps unknown tags', () => {
  const { doc, win } = page();
  const out = html(
    sanitize(
      `
    <p class="a" style="color:red" id="x" onclick="evil()">Hi <b>there</b></p>
    <script>evil()</script><style>*{}</style><iframe src="https://x"></iframe><object data="x"></object>
    <embed src="x"><form action="/x"><input name="q"><button>Go</button></form><link rel="stylesheet" href="x">
    <meta http-equiv="refresh" content="0;url=javascript:evil()"><base href="https://evil/">
    <img src="x.png" alt="ok" onerror="evil()" srcset="data:x 1x"><img src="data:image/svg+xml,<svg onload=evil()>">
    <a href="javascript:evil()" title="t">js</a><a href=" https://ok.example/" target="_blank" rel="noopener">ok</a>
    <a href="vbscript:x">vb</a><a href="&#106;avascript:x">ent</a>
    <svg><script>evil()</script><a xlink:href="javascript:evil()">s</a></svg>
    <math><mtext><table><mglyph><style><img src=x onerror=evil()>m</style></mglyph></table></mtext></math>
    <custom-el data-x="1">kept text <em>em</em></custom-el><noscript><img src=x onerror=evil()></noscript>
    <template><img src=x onerror=evil()></template><details open ontoggle="evil()">d</details>`,
      doc,
    ),
  );
  assert.doesNotMatch(
    out,
    /script|style=|<style|iframe|object|embed|form|input|<link|meta|<base|svg|math|noscript|template/i,
  );
  assert.doesNotMatch(out, /\bon[a-z]+=|javascript|vbscript|data:|srcset|id="x"/i);
  assert.match(out, /<p class="a">Hi <b>there<\/b><\/p>/);
  assert.match(out, /<img src="x.png" alt="ok">/);
  assert.match(out, /<a title="t">js<\/a>/);
  assert.match(out, /<a href=" https:\/\/ok.example\/" target="_blank" rel="noopener">ok<\/a>/);
  assert.match(out, /kept text <em>em<\/em>/, 'unknown elements are unwrapped, their text kept');
  assert.doesNotMatch(out, /custom-el|details|Go/);
  assert.match(out, /\sd$/, 'details unwrapped, its handler gone');
  win.close();
});

test('render: string, fields, html, attrs, template; null leaves the default', () => {
  const { doc, win } = page(`
    <div id="s" data-pz-slot="a">default</div>
    <div id="f" data-pz-slot="b"><h2 data-pz-field="title">T</h2><p data-pz-field="body">B</p><i data-pz-field="keep">K</i></div>
    <div id="h" data-pz-slot="c">old</div>
    <a id="at" data-pz-slot="d" href="/old" class="c0">link</a>
    <div id="t" data-pz-slot="e"><template data-pz-template><a href="{{url}}" title="{{ name }}">Hi {{name}}, {{missing}}!</a></template>default</div>
    <div id="n" data-pz-slot="g">keep me</div>`);
  const $ = (id) => doc.getElementById(id);
  render($('s'), '<b>not html</b>');
  assert.equal($('s').textContent, '<b>not html</b>');
  assert.equal($('s').children.length, 0);
  render($('f'), { title: 'New title', body: 42 });
  assert.equal(
    $('f').innerHTML,
    '<h2 data-pz-field="title">New title</h2><p data-pz-field="body">42</p><i data-pz-field="keep">K</i>',
  );
  render($('h'), { html: '<p>Sale <img src=x onerror=evil()></p><script>evil()</script>' });
  assert.equal($('h').innerHTML, '<p>Sale <img src="x"></p>');
  render($('at'), {
    attrs: {
      href: 'https://shop.example/sale',
      class: 'promo',
      'aria-label': 'Sale',
      'data-sku': 7,
      onclick: 'evil()',
      style: 'x',
      'data-pz-slot': 'z',
      title: null,
      src: 'javascript:x',
      HREF2: 'x',
    },
  });
  assert.equal($('at').getAttribute('href'), 'https://shop.example/sale');
  assert.equal($('at').className, 'promo');
  assert.equal($('at').getAttribute('aria-label'), 'Sale');
  assert.equal($('at').getAttribute('data-sku'), '7');
  assert.equal($('at').getAttribute('data-pz-slot'), 'd');
  for (const a of ['onclick', 'style', 'src', 'title'])
    assert.equal($('at').hasAttribute(a), false, a);
  render($('at'), { attrs: { href: 'javascript:evil()' } });
  assert.equal(
    $('at').getAttribute('href'),
    'https://shop.example/sale',
    'a bad URL changes nothing',
  );
  render($('t'), { url: 'javascript:evil()', name: '<img src=x onerror=evil()>"' });
  const a = $('t').querySelector('a');
  assert.equal(a.hasAttribute('href'), false, 'the URL check runs after placeholders are filled');
  assert.equal(a.textContent, 'Hi <img src=x onerror=evil()>", !');
  assert.equal(a.getAttribute('title'), '<img src=x onerror=evil()>"');
  assert.equal($('t').querySelectorAll('img').length, 0);
  assert.ok(
    $('t').querySelector('template[data-pz-template]'),
    'the template stays for the next render',
  );
  render($('t'), { url: '/ok', name: 'Ann' });
  assert.equal($('t').querySelector('a').outerHTML, '<a href="/ok" title="Ann">Hi Ann, !</a>');
  assert.equal($('t').querySelectorAll('a').length, 1);
  render($('n'), null);
  assert.equal($('n').textContent, 'keep me');
  win.close();
});

// ---- with the runtime and the real core ----

const PAYLOAD =
  '<p>Hi<img src="x" onerror="window.pwned=1"><script>window.pwned=2<\/script>' +
  '<a href="javascript:window.pwned=3">a</a><svg onload="window.pwned=4"></svg>' +
  '<iframe srcdoc="<script>parent.pwned=5<\/script>"></iframe><button onclick="window.pwned=6">b</button>' +
  '<math><mtext><table><mglyph><style><img src=x onerror="window.pwned=7"></style></mglyph></table></mtext></math></p>';

const SLOT_BUNDLE = {
  version: 'slots-1',
  defaults: {
    text: { content: 'Plain <b>text</b>' },
    fields: { content: { title: 'Field title', sub: 'Field sub' } },
    html: { content: { html: PAYLOAD } },
    attrs: {
      content: {
        attrs: { href: 'https://shop.example/sale', onclick: 'window.pwned=8', class: 'promo' },
      },
    },
    tpl: {
      content: { name: '<img src=x onerror="window.pwned=9">', url: 'javascript:window.pwned=10' },
    },
  },
};

test('slots render every content form from the core, and a malicious bundle never executes', async () => {
  const pg = page(
    `
    <div id="text" data-pz-slot="text">d</div>
    <div id="fields" data-pz-slot="fields"><h2 data-pz-field="title">d</h2><small data-pz-field="sub">d</small></div>
    <div id="html" data-pz-slot="html">d</div>
    <a id="attrs" data-pz-slot="attrs" href="/">d</a>
    <div id="tpl" data-pz-slot="tpl"><template data-pz-template><a href="{{url}}">{{name}}</a></template></div>
    <button id="control">control</button>`,
    { runScripts: 'dangerously' },
  );
  // The detector works: a handler set the normal way does run in this page.
  pg.doc.getElementById('control').setAttribute('onclick', 'window.controlRan = true');
  pg.doc.getElementById('control').click();
  assert.equal(pg.win.controlRan, true);

  const { pz } = runtime(pg, { bundle: SLOT_BUNDLE });
  const decisions = listen(pz, 'decision');
  await pz.flush();
  assert.deepEqual(
    decisions.map((d) => d.slot),
    ['text', 'fields', 'html', 'attrs', 'tpl'],
  );
  const $ = (id) => pg.doc.getElementById(id);
  assert.equal($('text').textContent, 'Plain <b>text</b>');
  assert.equal($('fields').querySelector('h2').textContent, 'Field title');
  assert.equal($('fields').querySelector('small').textContent, 'Field sub');
  assert.equal($('html').innerHTML, '<p>Hi<img src="x"><a>a</a>b</p>');
  assert.equal($('attrs').getAttribute('href'), 'https://shop.example/sale');
  assert.equal($('attrs').className, 'promo');
  assert.equal($('attrs').hasAttribute('onclick'), false);
  assert.equal(
    $('tpl').querySelector('a').outerHTML,
    '<a>&lt;img src=x onerror="window.pwned=9"&gt;</a>',
  );

  // Fire everything a payload could hang on.
  for (const el of pg.doc.body.querySelectorAll('*')) {
    for (const type of ['click', 'error', 'load', 'mouseover', 'focus', 'toggle'])
      el.dispatchEvent(new pg.win.Event(type));
  }
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(pg.win.pwned, undefined);
  for (const el of pg.doc.querySelectorAll('[data-pz-slot] *, [data-pz-slot]')) {
    for (const a of el.attributes) assert.doesNotMatch(a.name, /^on/i);
  }
  assert.equal(
    pg.doc.querySelectorAll('[data-pz-slot] script, [data-pz-slot] iframe, [data-pz-slot] svg')
      .length,
    0,
  );
  pg.win.close();
});

const IMPRESSION_BUNDLE = {
  version: 'imp-1',
  consent: { mode: 'opt-out' },
  actions: [
    { id: 'promo', slots: ['hero'], propensity: 0.5, value: 1, content: { title: 'Promo' } },
    { id: 'side', slots: ['side'], propensity: 0.5, value: 1, content: { title: 'Side' } },
  ],
  defaults: {
    hero: { content: { title: 'Default hero' } },
    side: { content: { title: 'Default side' } },
    plain: { content: { title: 'Plain default' } },
  },
};

test('impressions: once per page view per slot shown, none for defaults or slots not on the page; clicks in a slot', async () => {
  const fb = spyFeedback();
  try {
    const pg = page(`
      <div class="hero" data-pz-slot="hero"><h1 data-pz-field="title">x</h1><a id="cta" href="#">Buy</a></div>
      <div class="hero" data-pz-slot="hero"><h1 data-pz-field="title">x</h1></div>
      <div id="plain" data-pz-slot="plain"><span data-pz-field="title">x</span></div>`);
    const { pz } = runtime(pg, { bundle: IMPRESSION_BUNDLE, storage: memStorage() });
    await pz.flush();
    assert.deepEqual(
      [...pg.doc.querySelectorAll('.hero h1')].map((e) => e.textContent),
      ['Promo', 'Promo'],
    );
    assert.equal(pg.doc.querySelector('#plain span').textContent, 'Plain default');
    assert.deepEqual(fb, [['promo', 'impression']], 'one impression for two elements of one slot');
    await pz.decide();
    await pz.decide(['hero']);
    assert.deepEqual(fb, [['promo', 'impression']], 'not again in the same view');
    await pz.decide(['side']); // decided, but no element shows it
    assert.deepEqual(fb, [['promo', 'impression']]);

    pg.doc.getElementById('cta').click();
    pg.doc.getElementById('plain').click(); // a default: no feedback
    await pz.flush();
    assert.deepEqual(fb, [
      ['promo', 'impression'],
      ['promo', 'click'],
    ]);

    pg.win.history.pushState({}, '', '/next');
    await pz.flush();
    assert.deepEqual(
      fb,
      [
        ['promo', 'impression'],
        ['promo', 'click'],
        ['promo', 'impression'],
      ],
      'a new view',
    );
    const p = await pz.profile();
    assert.equal(p.exposures.promo.impressions, 2);
    assert.equal(p.exposures.promo.clicks, 1);
    assert.equal(p.exposures.side.impressions, 0);
    pg.win.close();
  } finally {
    fb.restore();
  }
});

test('slots an edge worker painted (data-pz-decided) keep their content and count as shown', async () => {
  const fb = spyFeedback();
  try {
    const pg = page(`
      <div id="edge" data-pz-slot="hero" data-pz-decided="promo"><h1 data-pz-field="title">Painted at the edge</h1></div>
      <div id="def" data-pz-slot="plain" data-pz-decided=""><span data-pz-field="title">Edge default</span></div>
      <div id="unknown" data-pz-slot="side" data-pz-decided="retired_action"><span>Old</span></div>`);
    const { pz } = runtime(pg, { bundle: IMPRESSION_BUNDLE, storage: memStorage() });
    const decisions = listen(pz, 'decision');
    const errors = listen(pz, 'error');
    await pz.flush();
    // Nothing repainted: no default-then-swap, whatever the local decision would have been.
    assert.equal(pg.doc.querySelector('#edge h1').textContent, 'Painted at the edge');
    assert.equal(pg.doc.querySelector('#def span').textContent, 'Edge default');
    assert.equal(pg.doc.querySelector('#unknown span').textContent, 'Old');
    const bySlot = Object.fromEntries(decisions.map((d) => [d.slot, d]));
    assert.equal(bySlot.hero.action, 'promo');
    assert.equal(bySlot.hero.edge, true);
    assert.equal(bySlot.plain.action, null);
    // The painted action counts as an impression; a default or an action this bundle does not
    // know does not (and is not an error).
    const p = await pz.profile();
    assert.equal(p.exposures.promo.impressions, 1);
    assert.equal(p.exposures.side.impressions, 0);
    assert.deepEqual(errors, []);
    pg.doc.querySelector('#edge h1').click();
    await pz.flush();
    assert.deepEqual(fb.at(-1), ['promo', 'click']);
    pg.win.close();
  } finally {
    fb.restore();
  }
});

test('why: true explains each decision on the decision event', async () => {
  const pg = page('<div data-pz-slot="hero"><h1 data-pz-field="title">x</h1></div>');
  const { pz } = runtime(pg, { bundle: IMPRESSION_BUNDLE, storage: memStorage(), why: true });
  const decisions = listen(pz, 'decision');
  await pz.flush();
  const hero = decisions.find((d) => d.slot === 'hero');
  assert.equal(hero.action, 'promo');
  assert.equal(hero.why.slot, 'hero');
  assert.equal(hero.why.action, 'promo');
  assert.ok(hero.why.candidates.some((c) => c.action === 'promo'));
  const plain = page('<div data-pz-slot="hero"><h1 data-pz-field="title">x</h1></div>');
  const r2 = runtime(plain, { bundle: IMPRESSION_BUNDLE, storage: memStorage() });
  const d2 = listen(r2.pz, 'decision');
  await r2.pz.flush();
  assert.equal(d2[0].why, undefined, 'no explanation unless asked');
  pg.win.close();
  plain.win.close();
});
