// Hostile bundle content through the real edge worker (workerd, embedded bundle, no server): the
// page it sends has every string payload escaped as text (no markup parsed out of it), sanitized
// HTML with nothing active, attribute values quoted and escaped, slots on <script>, <style>,
// <base> and <iframe> left exactly as the origin sent them, every byte outside the slots
// unchanged, the same slots as the browser runtime's renderer makes (js/src/runtime/dom.mjs),
// and, loaded into a jsdom page that runs scripts, nothing sets `window.pwned`.
//
//   node --test tests/edge/hostile.test.mjs   (needs build-wasm/pz_core.wasm)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM, VirtualConsole } from 'jsdom';
import { render } from '../../js/src/runtime/dom.mjs';
import { get, startOrigin, startWorkerd } from './harness.mjs';

/** String contents: set as text. Each would set window.pwned if it ever ran. */
const TEXT = [
  '<script>window.pwned=1</script>',
  '<img src=x onerror="window.pwned=2">',
  '</div><script>window.pwned=3</script><div>',
  '"><img src=x onerror=window.pwned=4>',
  "'><svg onload=window.pwned=5>",
  "{{constructor.constructor('window.pwned=6')()}}",
  '\u2028window.pwned=7;\u2029//',
  '<!--x--><img src=x onerror=window.pwned=8>',
  '&lt;img src=x onerror=window.pwned=9&gt; &amp; &#60;b&#62;',
  ']]><![CDATA[<script>window.pwned=10</script>',
];

/** content.html: sanitized. */
const HTML = [
  '<p>ok</p><script>window.pwned=20</script>',
  '<img src=x onerror="window.pwned=21">',
  '<a href="javascript:window.pwned=22">a</a><a href="  JaVa\tScRiPt:window.pwned=23">b</a>',
  '<a href="java&#x73;cript:window.pwned=24">c</a><a href="javascript&colon;x">d</a>',
  '<a href="data:text/html,<script>window.pwned=26</script>">e</a>',
  '</div></section></body><script>window.pwned=28</script><p>after</p>',
  '<p title=\'x" onmouseover="window.pwned=29\' style="color:red">p</p>',
  '<svg><script>window.pwned=30</script></svg><math><mi>m</mi></math>',
  '<iframe srcdoc="<script>parent.pwned=31</script>"></iframe><object data="x"></object>',
  '<noscript><p title="</noscript><img src=x onerror=window.pwned=38>"></p></noscript>',
  '<textarea></textarea><img src=x onerror=window.pwned=40></textarea>',
  '<a href="/ok" title="&quot;&gt;&lt;script&gt;window.pwned=41&lt;/script&gt;">fine</a>',
  '<!--><img src=x onerror=window.pwned=42>--><p>c</p>',
  '<p>\u2028line\u2029sep {{title}}</p>',
];

const TEMPLATE_CONTENT = {
  title: '"><img src=x onerror="window.pwned=50">',
  url: 'javascript:window.pwned=51',
  cls: "x' onclick='window.pwned=52",
  text: '</a><script>window.pwned=53</script>',
  nested: '{{title}}',
};

const HOSTILE_ATTRS = {
  href: 'javascript:window.pwned=60',
  onclick: 'window.pwned=61',
  style: 'background:url(javascript:window.pwned=63)',
  srcdoc: '<script>parent.pwned=64</script>',
  title: '"><script>window.pwned=66</script>',
  class: 'promo "><b>',
  'data-x': '" onmouseover="window.pwned=67',
};

/** Slots the worker must leave as they are (the same in dom.mjs `renderable`). */
const UNTOUCHED = [
  '<script data-pz-slot="in_script"></script>',
  '<style data-pz-slot="in_style"></style>',
  '<base data-pz-slot="in_base">',
  '<iframe data-pz-slot="in_iframe"></iframe>',
  '<textarea data-pz-slot="in_textarea">t</textarea>',
];

const PAGE =
  '<!doctype html><html><head><meta charset="utf-8"><title>Hostile</title></head><body>\n' +
  TEXT.map((_, i) => `<div data-pz-slot="t${i}">default</div>\n`).join('') +
  HTML.map((_, i) => `<div data-pz-slot="h${i}">default</div>\n`).join('') +
  '<div data-pz-slot="tpl"><template data-pz-template><a href="{{url}}" class="{{cls}}" ' +
  'title="{{title}}">{{text}} {{nested}}</a></template>default</div>\n' +
  '<div data-pz-slot="fields"><h2 data-pz-field="title">d</h2><p data-pz-field="text">d</p></div>\n' +
  '<a data-pz-slot="attrs" href="/home">link</a>\n' +
  UNTOUCHED.map((s) => s + '\n').join('') +
  '<p>outside &amp; <b>untouched</b></p>\n' +
  '</body></html>\n';

const BUNDLE = {
  version: 'edge-hostile-1',
  consent: { mode: 'opt-out' },
  actions: [{ id: 'evil', slots: ['t0'], propensity: 1, value: 1, content: TEXT[0] }],
  defaults: {
    ...Object.fromEntries(TEXT.map((c, i) => [`t${i}`, { content: c }])),
    ...Object.fromEntries(HTML.map((h, i) => [`h${i}`, { content: { html: h } }])),
    tpl: { content: TEMPLATE_CONTENT },
    fields: { content: TEMPLATE_CONTENT },
    attrs: { content: { attrs: HOSTILE_ATTRS } },
    in_script: { content: 'window.pwned=70' },
    in_style: { content: { html: '<b>x</b>', attrs: { title: 'y' } } },
    in_base: { content: { attrs: { href: 'https://evil.example/' } } },
    in_iframe: { content: { attrs: { src: 'https://evil.example/' } } },
    in_textarea: { content: '</textarea><script>window.pwned=71</script>' },
  },
};

let origin;
let edge;
let text;

before(async () => {
  origin = await startOrigin({ '/': PAGE });
  edge = await startWorkerd({
    bindings: { PZ_ORIGIN: origin.url, PZ_SERVER: '', PZ_SLOTS: '' },
    bundle: BUNDLE,
  });
  const r = await get(edge.url + '/');
  assert.equal(r.status, 200);
  text = r.text;
});
after(async () => {
  await edge?.stop();
  await origin?.stop();
});

const slotsOf = (doc) =>
  new Map([...doc.querySelectorAll('[data-pz-slot]')].map((e) => [e.getAttribute('data-pz-slot'), e]));

test('the worker decided the slots (the hostile action included)', () => {
  const doc = new JSDOM(text).window.document;
  const slots = slotsOf(doc);
  assert.equal(slots.get('t0').getAttribute('data-pz-decided'), 'evil');
  for (let i = 1; i < TEXT.length; i++) assert.equal(slots.get(`t${i}`).getAttribute('data-pz-decided'), '');
  for (let i = 0; i < HTML.length; i++) assert.equal(slots.get(`h${i}`).getAttribute('data-pz-decided'), '');
});

test('string content comes out escaped: the exact text, no element parsed out of it', () => {
  const slots = slotsOf(new JSDOM(text).window.document);
  TEXT.forEach((c, i) => {
    const el = slots.get(`t${i}`);
    assert.equal(el.textContent, c, `t${i}`);
    assert.equal(el.children.length, 0, `t${i}`);
  });
  // In the bytes: markup characters of text are references.
  assert.ok(text.includes('&lt;script&gt;window.pwned=1&lt;/script&gt;'));
  assert.ok(text.includes('&lt;/div&gt;&lt;script&gt;window.pwned=3'));
  assert.ok(text.includes('&amp;lt;img src=x onerror=window.pwned=9&amp;gt;'), 'a reference in text is not decoded');
  assert.ok(text.includes('\u2028window.pwned=7;\u2029//'));
});

test('no active markup anywhere in the bytes the worker sends', () => {
  // The only <script> and <style> start tags are the site's (empty) slots.
  assert.equal(text.match(/<script\b/gi).length, 1);
  assert.equal(text.match(/<style\b/gi).length, 1);
  assert.equal(text.match(/<iframe\b/gi).length, 1);
  assert.equal(text.match(/<(svg|math|object|embed|form|noscript|link|meta|base)\b/gi).length, 2,
    'the <meta charset> and the <base> slot');
  // Every attribute value is double-quoted with no `<`, `>` or `"` inside, so a start tag is
  // `<` up to the next `>`; none carries a handler, a style or srcdoc, or an unsafe URL.
  const tags = text.match(/<[a-z][^>]*>/gi);
  assert.ok(tags.length > 50);
  for (const tag of tags) {
    const names = tag.replace(/="[^"]*"/g, '');
    assert.doesNotMatch(names.slice(1, -1), /[='"<]/, `every value is double-quoted: ${tag}`);
    assert.doesNotMatch(names, /\s(on[a-z]+|style|srcdoc)(\s|\/?>)/i, tag);
    assert.doesNotMatch(tag, /="\s*(javascript|data|vbscript):/i, tag);
  }
});

test('the slots are the ones the browser runtime renders (dom.mjs in jsdom)', () => {
  const edgeSlots = slotsOf(new JSDOM(text).window.document);
  const browserDoc = new JSDOM(PAGE).window.document;
  const contents = BUNDLE.defaults;
  const parity = [];
  for (const [name, want] of slotsOf(browserDoc)) {
    const content = name === 't0' ? TEXT[0] : contents[name].content;
    render(want, content);
    const got = edgeSlots.get(name);
    got.removeAttribute('data-pz-decided');
    // jsdom parses <noscript> with scripting off, browsers and HTMLRewriter with it on: the trees
    // differ there (both inert; checked in the next test).
    if (name === 'h9') continue;
    parity.push(name);
    assert.equal(got.outerHTML, want.outerHTML, `slot ${name}`);
  }
  assert.equal(parity.length, TEXT.length + HTML.length - 1 + 3 + UNTOUCHED.length);
  // The untouched slots, byte for byte.
  for (const s of UNTOUCHED) assert.ok(text.includes('\n' + s + '\n'), s);
  // The template: values are text and attribute values; no URL check passed; no re-expansion.
  const a = edgeSlots.get('tpl').querySelector('a');
  assert.equal(a.hasAttribute('href'), false);
  assert.equal(a.getAttribute('class'), TEMPLATE_CONTENT.cls);
  assert.equal(a.getAttribute('title'), TEMPLATE_CONTENT.title);
  assert.equal(a.textContent, `${TEMPLATE_CONTENT.text} {{title}}`);
  const at = edgeSlots.get('attrs');
  assert.equal(at.getAttribute('href'), '/home');
  assert.equal(at.getAttribute('title'), HOSTILE_ATTRS.title);
  assert.equal(at.getAttribute('data-x'), HOSTILE_ATTRS['data-x']);
  for (const n of ['onclick', 'style', 'srcdoc', 'onmouseover']) assert.equal(at.hasAttribute(n), false, n);
});

test('everything outside the slots is as the origin sent it', () => {
  const outside = (html) => html.split('\n').filter((l) => !/^<(div|a) data-pz-slot=/.test(l));
  assert.deepEqual(outside(text), outside(PAGE));
});

test('loaded in a page that runs scripts, with every event fired, nothing runs', async () => {
  const vc = new VirtualConsole();
  const dom = new JSDOM(text, { runScripts: 'dangerously', url: 'https://shop.example/', virtualConsole: vc });
  const { window: win } = dom;
  const doc = win.document;
  // The detector works.
  const probe = doc.createElement('button');
  probe.setAttribute('onclick', 'window.probe = 1');
  doc.body.append(probe);
  probe.click();
  assert.equal(win.probe, 1);
  for (const el of doc.querySelectorAll('*')) {
    for (const type of ['click', 'error', 'load', 'mouseover', 'focus', 'toggle'])
      el.dispatchEvent(new win.Event(type));
  }
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(win.pwned, undefined);
  assert.equal(doc.baseURI, 'https://shop.example/', 'no <base href> came in');
  win.close();
});
