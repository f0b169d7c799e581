// What the edge worker puts into slots, against the browser runtime's renderer: for every case
// (a slot's markup and a decision's content) the page the worker sends, parsed by jsdom, has the
// same slot as js/src/runtime/dom.mjs `render` makes in jsdom (fields, strings, templates,
// sanitized HTML, attributes); hostile HTML never yields scripts, handlers or unsafe URLs; and
// context-only decisions (device, locale, country, path) are those of the native `pz simulate`
// for the same page and context. The worker runs with an embedded bundle and no server.
//
//   node --test tests/edge/render.test.mjs   (needs build/pz, build-wasm/pz_core.wasm)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JSDOM } from 'jsdom';
import { PZ_BIN } from '../js/harness.mjs';
import { render } from '../../js/src/runtime/dom.mjs';
import { consentCookie, get, startOrigin, startWorkerd } from './harness.mjs';

/** [markup of the slot, content of its decision, parity with dom.mjs in jsdom?] */
const CASES = [
  ['<h2 data-pz-field="title">Default</h2><p data-pz-field="body">b</p><span>keep</span>',
    { title: 'T <b>&amp; "q"', body: 'x' }],
  ['<b>old</b> text', 'plain <i>text</i> & more'],
  ['<b>old</b>', 42],
  ['<p>stays <em>as it is</em></p>', null],
  ['<i>default</i>',
    { html: '<p class="x" onclick="evil()">Hi <a href="/a?b=1&amp;c=2" target="_blank">link</a>' +
      '<script>alert(1)</script></p>' }],
  ['<template data-pz-template><h3>{{title}}</h3><p class="{{ cls }}">{{body}}</p></template>' +
    '<h3>Default</h3>', { title: 'A & B', body: '<script>x</script>', cls: 'big' }],
  ['<template data-pz-template><b>{{title}}</b></template><i>default</i>',
    { title: 'from the template', html: '<u>not used</u>' }],
  ['<span data-pz-field="title">x</span>',
    { title: 'hot', attrs: { class: 'hot', title: 'T & "t"', onclick: 'x()', 'data-pz-slot': 'o',
      'data-track': '1', href: 'javascript:alert(1)', style: 'color:red', id: 'i' } }],
  ['<span>x</span>', { attrs: { class: null, title: false, 'aria-label': 'L' } },
    ' class="c" title="t"'],
  ['x', { html: '<a href="javascript:alert(1)">a</a><a href="java&#x73;cript:alert(1)">b</a>' +
    '<a href="javascript&colon;alert(1)">c</a><a href=" https://ok.example/p?q=1">d</a>' +
    '<img src="data:image/png;base64,AA" alt="i"><a href="JaVaScRiPt:x">e</a>' +
    '<a href="&#106;avascript:x">f</a><img src="/ok.png" alt="ok"><a href="#top">g</a>' }],
  ['x', { html: '<div>a</div></div></section><script>alert(1)</script><p>after' }],
  ['x', { html: '<svg><script>alert(1)</script><a href="x">s</a></svg><math><mi>x</mi></math>ok' }],
  ['x', { html: '<textarea><img src=x onerror=alert(1)></textarea><style>p{}</style>t' }],
  ['x', { html: '<!--<img src=x onerror=alert(1)>--><p>unclosed <b>bold' }],
  ['x', { html: '<table><tr><td colspan="2">cell</td></tr></table>' +
    '<custom-el>in <em>em</em></custom-el>' }],
  ['x', { html: '<form action="/x"><input name="x"></form><iframe src="https://x"></iframe>f' }],
  ['x', { html: '<a href="/x" style="color:red" id="i" name="n" data-x="1" data-pz-x="2" ' +
    'aria-label="l" title=\'say "hi" &amp; bye\' rel="noopener">x</a>' }],
  ['x', { html: '<p>caf&eacute; &lt;tag&gt; &amp; &#x1F600; <br> line</p><hr>' +
    '<img alt="&quot;q&quot;">' }],
  ['<!-- c --><script>var a = "<b>";</script><span data-pz-field="title">x</span>' +
    '<img src="/i.png"><br/><p>one<p>two', { title: 'T' }],
  ['<h2 data-pz-field="title">x</h2>', { title: 'T', html: '<b>replaces the fields</b>' }],
  ['<div><h2 data-pz-field="title">deep</h2>' +
    '<template><i data-pz-field="title">t</i></template></div>',
    { title: 'Deep' }],
  ['<span data-pz-field="missing">kept</span><span data-pz-field="nul">gone</span>',
    { nul: null }],
  ['<noscript><p title="</noscript><img src=x onerror=alert(1)>"></p></noscript>', 'n'],
  // jsdom parses <noscript> as if scripting were off, browsers and HTMLRewriter as if on: the
  // trees differ (both safe).
  ['x', { html: '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>' },
    false],
  ['x', { html: '<plaintext><script>alert(1)</script>' }],
  // A slot inside the captured markup of another: its text and comment are captured once.
  ['<div data-pz-slot="nested_in"><b>inner</b> text<!-- c --></div>' +
    '<span data-pz-field="title">x</span>', { title: 'Outer' }],
];
const slot = (i) => `s${i}`;

const CONTEXT_BUNDLE_ACTIONS = [
  { id: 'mobile_hero', slots: ['ctx'], eligible: { '==': [{ var: 'context.device' }, 'mobile'] },
    value: 1, content: 'mobile' },
  { id: 'de_locale', slots: ['ctx'],
    eligible: { starts_with: [{ var: 'context.locale' }, 'de'] }, value: 2, content: 'hallo' },
  { id: 'docs_tip', slots: ['ctx'], eligible: { starts_with: [{ var: 'page.path' }, '/docs'] },
    value: 3, content: 'read the docs' },
  { id: 'fr_offer', slots: ['ctx'], eligible: { '==': [{ var: 'context.geo.country' }, 'FR'] },
    value: 4, content: { title: 'bonjour' } },
  { id: 'returning', slots: ['ctx'], eligible: { '>=': [{ count: ['page_view', 'all'] }, 1] },
    value: 9, content: 'needs a profile' },
];
const BUNDLE = {
  version: 'edge-render-1',
  actions: CONTEXT_BUNDLE_ACTIONS,
  defaults: {
    ctx: { content: 'generic' },
    ...Object.fromEntries(
      CASES.map(([, content], i) => [slot(i), { content }]).filter(([, c]) => c.content !== null),
    ),
  },
};

const page = (inner) =>
  '<!doctype html><html><head><title>t</title></head><body>\n' +
  CASES.map(([markup, , attrs], i) =>
    `<div data-pz-slot="${slot(i)}"${attrs ?? ''}>${markup}</div>\n`).join('') +
  `<p data-pz-slot="ctx">ctx default</p>\n<img data-pz-slot="void" src="/v.png">\n${inner ?? ''}` +
  '</body></html>\n';

let origin;
let edge;

before(async () => {
  origin = await startOrigin({ '/': page(), '/docs/start': page('<p>docs</p>') });
  edge = await startWorkerd({
    bindings: { PZ_ORIGIN: origin.url, PZ_SERVER: '', PZ_SLOTS: '' },
    bundle: { ...BUNDLE, defaults: { ...BUNDLE.defaults, void: { content: { title: 'v' } } } },
  });
});
after(async () => {
  await edge?.stop();
  await origin?.stop();
});

const slotsOf = (html) => {
  const doc = new JSDOM(html).window.document;
  return new Map([...doc.querySelectorAll('[data-pz-slot]')].map((e) =>
    [e.getAttribute('data-pz-slot'), e]));
};

describe('slot rendering', () => {
  let edgeSlots;
  let text;
  before(async () => {
    const r = await get(edge.url + '/');
    assert.equal(r.status, 200);
    text = r.text;
    edgeSlots = slotsOf(text);
  });

  test('every case: the same slot as dom.mjs render in jsdom (markers aside)', () => {
    const browser = slotsOf(page());
    for (let i = 0; i < CASES.length; i++) {
      const [markup, content, parity] = CASES[i];
      const want = browser.get(slot(i));
      render(want, content);
      const got = edgeSlots.get(slot(i));
      assert.equal(got.getAttribute('data-pz-decided'), '', `case ${i}: marker`);
      got.removeAttribute('data-pz-decided');
      if (parity === false) continue;
      assert.equal(got.outerHTML, want.outerHTML,
        `case ${i}: ${markup} with ${JSON.stringify(content)}`);
    }
  });

  test('hostile HTML: no script, handler, style, id or unsafe URL ever comes out', () => {
    let checked = 0;
    for (let i = 0; i < CASES.length; i++) {
      const [markup, content] = CASES[i];
      const tpl = markup.includes('data-pz-template');
      if (!tpl && typeof content?.html !== 'string') continue; // the site's own markup
      ++checked;
      const el = edgeSlots.get(slot(i));
      for (const e of [...el.querySelectorAll('*')].filter((x) => x.localName !== 'template')) {
        assert.ok(!/^(script|style|iframe|form|input|svg|math|textarea|noscript|object|embed)$/i
          .test(e.localName), `case ${i}: <${e.localName}>`);
        for (const a of e.attributes) {
          assert.ok(!/^on|^style$|^id$|^name$|^data-pz-/.test(a.name), `case ${i}: ${a.name}`);
          if (a.name === 'href' || a.name === 'src') {
            assert.ok(!/^\s*(javascript|data|vbscript):/i.test(a.value), `case ${i}: ${a.value}`);
          }
        }
      }
    }
    assert.ok(checked >= 15);
  });

  test('the void slot and every line outside the slots are left as they were', () => {
    assert.ok(text.includes('\n<img data-pz-slot="void" src="/v.png">\n'));
    const outside = (html) => html.split('\n').filter((l) => !/^<(div|p) data-pz-slot=/.test(l));
    assert.deepEqual(outside(text), outside(page()));
    assert.equal(outside(text).length, 4);
  });
});

describe('context-only decisions', () => {
  const MOBILE_UA =
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36';
  const GRANTED = consentCookie({ analytics: true, personalization: true, marketing: false });
  /** [path, request headers, the context the worker should derive, the winner, consent] */
  const cases = [
    ['/', {}, { device: 'desktop' }, null],
    ['/', { 'user-agent': MOBILE_UA }, { device: 'mobile' }, 'mobile_hero'],
    ['/', { 'sec-ch-ua-mobile': '?1', 'user-agent': 'X' }, { device: 'mobile' }, 'mobile_hero'],
    ['/', { 'accept-language': 'fr;q=0.5, de-CH, en;q=0.8' },
      { device: 'desktop', locale: 'de-CH' }, 'de_locale'],
    ['/docs/start', { 'user-agent': MOBILE_UA }, { device: 'mobile' }, 'docs_tip'],
    ['/', { 'cf-ipcountry': 'fr', 'accept-language': 'de' },
      { device: 'desktop', locale: 'de', geo: { country: 'FR' } }, 'fr_offer'],
    ['/', { 'cf-ipcountry': 'FR' }, { device: 'desktop', geo: { country: 'FR' } }, 'fr_offer',
      GRANTED],
  ];

  let bundleFile;
  before(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-edge-render-'));
    bundleFile = path.join(dir, 'bundle.json');
    fs.writeFileSync(bundleFile, JSON.stringify(BUNDLE));
  });
  after(() => fs.rmSync(path.dirname(bundleFile), { recursive: true, force: true }));

  /** The native `pz simulate` decision of the ctx slot for this page and context. */
  function native(path, context, consent) {
    const t = Date.now();
    const lines = [];
    if (consent) lines.push({ t, consent: JSON.parse(decodeURIComponent(consent)) });
    lines.push({ t, decide: ['ctx'], page: { path, url: `${edge.url}${path}` }, context });
    const r = spawnSync(PZ_BIN, ['simulate', '--bundle', bundleFile],
      { input: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });
    assert.equal(r.status, 0, r.stderr.toString());
    return JSON.parse(r.stdout.toString()).decisions[0];
  }

  for (const [path, headers, context, winner, consent] of cases) {
    test(`${path} ${JSON.stringify(headers)}${consent ? ' (consent)' : ''}: as native`, async () => {
      const r = await get(edge.url + path, {
        headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', ...headers },
        cookies: consent ? { pz_consent: consent } : undefined,
      });
      const el = slotsOf(r.text).get('ctx');
      const want = native(path, context, consent);
      assert.equal(want.action, winner);
      assert.equal(el.getAttribute('data-pz-decided'), want.action ?? '');
      const shown = typeof want.content === 'string' ? want.content : 'ctx default';
      assert.equal(el.textContent, shown);
      assert.notEqual(want.action, 'returning'); // no profile at the edge
    });
  }
});
