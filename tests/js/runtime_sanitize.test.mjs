// Hostile bundle content in the browser runtime: a bundle whose actions and defaults carry every
// kind of injection (markup in text, <script>, handlers, javascript: URLs, markup that closes the
// slot, attribute-breaking quotes, {{…}} payloads, U+2028/U+2029, slots on <script>, <style>,
// <base> and <iframe> elements) is rendered by the real runtime and core into a jsdom page that
// runs scripts. Every payload would set `window.pwned`; after rendering and firing every event
// a payload could hang on, it is unset, no active element or handler came in, and text content
// is shown as the literal text it is (docs/slots.md).
//
//   node --test tests/js/runtime_sanitize.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render, renderable, safeUrl } from '../../js/src/runtime/dom.mjs';
import { listen, page, runtime } from './runtime_harness.test.mjs';

/** Text payloads: each would set window.pwned to a distinct number if it ever ran. */
const TEXT = [
  '<script>window.pwned=1</script>',
  '<img src=x onerror="window.pwned=2">',
  '</div><script>window.pwned=3</script><div>',
  '"><img src=x onerror=window.pwned=4>',
  "'><svg onload=window.pwned=5>",
  "{{constructor.constructor('window.pwned=6')()}}",
  '\u2028window.pwned=7;\u2029//',
  'javascript:window.pwned=8',
  '<!--<img src=x onerror=window.pwned=9>-->',
  '&lt;img src=x onerror=window.pwned=10&gt;',
];

/** HTML payloads (content.html): sanitized, never executed. */
const HTML = [
  '<p>ok</p><script>window.pwned=20</script>',
  '<img src=x onerror="window.pwned=21">',
  '<a href="javascript:window.pwned=22">a</a>',
  '<a href="  JaVa\tScRiPt:window.pwned=23">b</a>',
  '<a href="java&#x73;cript:window.pwned=24">c</a>',
  '<a href="javascript&colon;window.pwned=25">d</a>',
  '<a href="data:text/html,<script>window.pwned=26</script>">e</a>',
  '<a href="vbscript:window.pwned=27">f</a>',
  '</div></section><script>window.pwned=28</script><p>after</p>',
  '<p title="x" onmouseover="window.pwned=29" style="background:url(javascript:x)">p</p>',
  '<svg><script>window.pwned=30</script></svg><math><mi xlink:href="javascript:x">m</mi></math>',
  '<iframe srcdoc="<script>parent.pwned=31</script>"></iframe>',
  '<object data="javascript:window.pwned=32"></object><embed src="javascript:window.pwned=33">',
  '<form action="javascript:window.pwned=34"><button formaction="javascript:x">b</button></form>',
  '<details open ontoggle="window.pwned=35">d</details><video><source onerror="window.pwned=36">',
  '<base href="javascript:window.pwned=37//"><meta http-equiv="refresh" content="0;url=javascript:x">',
  '<noscript><p title="</noscript><img src=x onerror=window.pwned=38>"></p></noscript>',
  '<style>@import "javascript:x";</style><link rel="stylesheet" href="javascript:x">',
  '<template><script>window.pwned=39</script></template><textarea><img src=x onerror=window.pwned=40></textarea>',
  '<image src=x onerror="window.pwned=41"><isindex action="javascript:x">',
  '<a href="/ok" target="_top" rel="noopener" title="&quot;&gt;&lt;script&gt;">fine</a>',
  '<p>\u2028line\u2029sep {{title}}</p>',
];

/** Template placeholders and fields that try to break out of their attribute or text. */
const TEMPLATE_CONTENT = {
  title: '"><img src=x onerror="window.pwned=50">',
  url: 'javascript:window.pwned=51',
  cls: "x' onclick='window.pwned=52",
  text: '</a><script>window.pwned=53</script>',
  nested: '{{title}}',
};

const SLOT_MARKUP = [
  ...TEXT.map((_, i) => `<div data-pz-slot="t${i}">default</div>`),
  ...HTML.map((_, i) => `<div data-pz-slot="h${i}">default</div>`),
  '<div data-pz-slot="tpl"><template data-pz-template><a href="{{url}}" class="{{cls}}" ' +
    'title={{title}}>{{text}} {{nested}}</a></template>default</div>',
  '<div data-pz-slot="fields"><h2 data-pz-field="title">d</h2><p data-pz-field="text">d</p></div>',
  '<a data-pz-slot="attrs" href="/home">link</a>',
  // Slots the site should never have made: the runtime leaves them as they are.
  '<script data-pz-slot="in_script"></script>',
  '<style data-pz-slot="in_style"></style>',
  '<base data-pz-slot="in_base">',
  '<iframe data-pz-slot="in_iframe"></iframe>',
  '<svg><text data-pz-slot="in_svg">s</text></svg>',
  '<button id="control">control</button>',
].join('\n');

const HOSTILE_ATTRS = {
  href: 'javascript:window.pwned=60',
  onclick: 'window.pwned=61',
  onmouseover: 'window.pwned=62',
  style: 'background:url(javascript:window.pwned=63)',
  srcdoc: '<script>parent.pwned=64</script>',
  formaction: 'javascript:window.pwned=65',
  id: 'control',
  'data-pz-slot': 'other',
  title: '"><script>window.pwned=66</script>',
  class: 'promo "><b>',
};

const BUNDLE = {
  version: 'hostile-1',
  consent: { mode: 'opt-out' },
  actions: [
    // An action (not only defaults) with hostile content, eligible for everyone.
    { id: 'evil', slots: ['t0'], propensity: 1, value: 1, content: TEXT[0] },
  ],
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
    in_svg: { content: '<script>window.pwned=71</script>' },
  },
};

/** Fires every event a payload could hang on, on every element. */
async function fireEverything(pg) {
  for (const el of pg.doc.querySelectorAll('*')) {
    for (const type of ['click', 'error', 'load', 'mouseover', 'focus', 'toggle', 'animationstart'])
      el.dispatchEvent(new pg.win.Event(type));
  }
  await new Promise((r) => setTimeout(r, 30));
}

function assertInert(pg, where) {
  assert.equal(pg.win.pwned, undefined, `${where}: a payload ran`);
  const slots = [...pg.doc.querySelectorAll('[data-pz-slot]')].filter(renderable);
  for (const slot of slots) {
    const name = slot.getAttribute('data-pz-slot');
    for (const el of [slot, ...slot.querySelectorAll('*')]) {
      if (el.closest('template')) continue; // the site's own inert template
      assert.doesNotMatch(
        el.localName,
        /^(script|style|iframe|frame|object|embed|form|base|link|meta|svg|math|noscript|textarea|button|input|details|video|source|image)$/,
        `${where}: <${el.localName}> in slot ${name}`,
      );
      for (const a of el.attributes) {
        assert.doesNotMatch(a.name, /^(on|style$|srcdoc$|formaction$|action$)/i,
          `${where}: ${a.name} in slot ${name}`);
        if (/^(href|src|cite|action)$/.test(a.name)) {
          assert.ok(safeUrl(a.value), `${where}: ${a.name}="${a.value}" in slot ${name}`);
          assert.doesNotMatch(a.value.replace(/[\0- ]/g, ''), /^(javascript|data|vbscript):/i);
        }
      }
    }
  }
}

test('the detector works: a handler set the normal way runs in this page', () => {
  const pg = page('<button id="control">control</button>', { runScripts: 'dangerously' });
  pg.doc.getElementById('control').setAttribute('onclick', 'window.pwned = "control"');
  pg.doc.getElementById('control').click();
  assert.equal(pg.win.pwned, 'control');
  const s = pg.doc.createElement('script');
  s.textContent = 'window.scriptRan = true';
  pg.doc.body.append(s);
  assert.equal(pg.win.scriptRan, true, 'scripts run in this page');
  pg.win.close();
});

test('a bundle of hostile content: nothing runs, no active markup comes in, text stays text', async () => {
  const pg = page(SLOT_MARKUP, { runScripts: 'dangerously' });
  const { pz } = runtime(pg, { bundle: BUNDLE });
  const decisions = listen(pz, 'decision');
  await pz.flush();
  assert.ok(decisions.length >= TEXT.length + HTML.length, `${decisions.length} decisions`);
  assert.equal(decisions.find((d) => d.slot === 't0').action, 'evil');
  await fireEverything(pg);
  assertInert(pg, 'runtime');
  const $ = (name) => pg.doc.querySelector(`[data-pz-slot="${name}"]`);

  // Text is text: exactly the content, one text node, nothing parsed out of it.
  TEXT.forEach((c, i) => {
    assert.equal($(`t${i}`).textContent, c, `t${i}`);
    assert.equal($(`t${i}`).children.length, 0, `t${i} has no elements`);
  });
  // Sanitized HTML keeps what is harmless.
  assert.equal($('h0').innerHTML, '<p>ok</p>');
  assert.equal($('h8').innerHTML, '<p>after</p>');
  assert.equal($('h20').querySelector('a').getAttribute('href'), '/ok');
  assert.equal($('h20').querySelector('a').getAttribute('title'), '"><script>');
  assert.equal($('h21').textContent, '\u2028line\u2029sep {{title}}', 'no placeholder in html');
  // The template: values are text and attribute values, never markup; the URL check runs on the
  // filled value; a value is not expanded again ({{title}} stays literal).
  const a = $('tpl').querySelector('a');
  assert.equal(a.hasAttribute('href'), false);
  assert.equal(a.getAttribute('class'), TEMPLATE_CONTENT.cls);
  assert.equal(a.getAttribute('title'), TEMPLATE_CONTENT.title);
  assert.equal(a.textContent, `${TEMPLATE_CONTENT.text} {{title}}`);
  assert.equal($('tpl').querySelectorAll('img, script').length, 0);
  // Fields are text.
  assert.equal($('fields').querySelector('h2').textContent, TEMPLATE_CONTENT.title);
  assert.equal($('fields').querySelector('p').textContent, TEMPLATE_CONTENT.text);
  // Attributes: allowlisted ones set (as literal values), the rest ignored.
  const at = $('attrs');
  assert.equal(at.getAttribute('href'), '/home', 'a javascript: href is refused');
  assert.equal(at.getAttribute('title'), HOSTILE_ATTRS.title);
  assert.equal(at.getAttribute('class'), HOSTILE_ATTRS.class);
  for (const n of ['onclick', 'onmouseover', 'style', 'srcdoc', 'formaction', 'id'])
    assert.equal(at.hasAttribute(n), false, n);
  assert.equal(at.getAttribute('data-pz-slot'), 'attrs');
  assert.equal(at.children.length, 0);
  // Slots on elements that are code, resources or foreign content are left as they were.
  assert.equal(pg.doc.querySelector('script[data-pz-slot]').textContent, '');
  assert.equal(pg.doc.querySelector('style[data-pz-slot]').textContent, '');
  assert.equal(pg.doc.querySelector('style[data-pz-slot]').hasAttribute('title'), false);
  assert.equal(pg.doc.querySelector('base[data-pz-slot]').hasAttribute('href'), false);
  assert.equal(pg.doc.querySelector('iframe[data-pz-slot]').hasAttribute('src'), false);
  assert.equal(pg.doc.querySelector('[data-pz-slot="in_svg"]').textContent, 's');
  assert.equal(pg.doc.baseURI, 'https://shop.example/');
  pg.win.close();
});

test('a slot only on a <script> shows nothing, so its action is not counted as shown', async () => {
  const pg = page('<script data-pz-slot="code"></script>', { runScripts: 'dangerously' });
  const bundle = {
    version: 'v-unshown',
    consent: { mode: 'opt-out' },
    // At most one impression ever: a counted impression would leave the slot to its default.
    actions: [{ id: 'once', slots: ['code'], propensity: 1, value: 1, caps: { total: 1 }, content: 'x' }],
    defaults: { code: { content: 'window.pwned=90' } },
  };
  const { pz } = runtime(pg, { bundle });
  await pz.flush();
  for (let i = 0; i < 3; i++) {
    const [d] = await pz.decide(['code']);
    assert.equal(d.action, 'once', `decision ${i}: the action was never shown, so never capped`);
  }
  assert.equal(pg.doc.querySelector('script').textContent, '');
  assert.equal(pg.win.pwned, undefined);
  pg.win.close();
});

test('render() refuses script, style, base, iframe, template and SVG slot elements', () => {
  const pg = page(
    '<script id="s"></script><style id="st"></style><base id="b"><iframe id="f"></iframe>' +
      '<template id="t"></template><textarea id="ta"></textarea><svg><text id="sv">x</text></svg>' +
      '<object id="o"></object><embed id="e"><link id="l"><meta id="m">',
    { runScripts: 'dangerously' },
  );
  const $ = (id) => pg.doc.getElementById(id);
  render($('s'), 'window.pwned=80');
  render($('s'), { attrs: { src: 'https://evil.example/x.js' } });
  render($('b'), { attrs: { href: 'https://evil.example/' } });
  render($('f'), { attrs: { src: 'https://evil.example/' }, html: '<b>x</b>' });
  render($('st'), 'body{background:url(https://evil.example/)}');
  render($('t'), { html: '<b>x</b>' });
  render($('ta'), 'text');
  render($('sv'), { html: '<b>x</b>' });
  render($('o'), { attrs: { data: 'x', title: 't' } });
  render($('e'), { attrs: { src: 'https://evil.example/' } });
  render($('l'), { attrs: { href: 'https://evil.example/x.css' } });
  render($('m'), { attrs: { title: 't' } });
  assert.equal(pg.win.pwned, undefined);
  assert.equal($('s').textContent, '');
  assert.equal($('s').hasAttribute('src'), false);
  assert.equal($('b').hasAttribute('href'), false);
  assert.equal($('f').hasAttribute('src'), false);
  assert.equal($('st').textContent, '');
  assert.equal($('t').content.childNodes.length + $('t').childNodes.length, 0);
  assert.equal($('ta').value, '');
  assert.equal($('sv').textContent, 'x');
  assert.equal($('o').hasAttribute('title'), false);
  assert.equal($('e').hasAttribute('src'), false);
  assert.equal($('l').hasAttribute('href'), false);
  assert.equal($('m').hasAttribute('title'), false);
  for (const id of ['s', 'st', 'b', 'f', 't', 'ta', 'sv', 'o', 'e', 'l', 'm'])
    assert.equal(renderable($(id)), false, id);
  for (const tag of ['div', 'span', 'a', 'img', 'p', 'section', 'button', 'li'])
    assert.equal(renderable(pg.doc.createElement(tag)), true, tag);
  pg.win.close();
});

test('content rendered again and again stays inert (no re-parse of what was rendered)', () => {
  const pg = page('<div id="d" data-pz-slot="d"></div>', { runScripts: 'dangerously' });
  const el = pg.doc.getElementById('d');
  // Text that looks like escaped markup must not be unescaped by a later render.
  render(el, '&lt;img src=x onerror=window.pwned=90&gt;');
  render(el, { html: el.innerHTML });
  assert.equal(el.querySelectorAll('img').length, 0);
  assert.equal(el.textContent, '&lt;img src=x onerror=window.pwned=90&gt;');
  render(el, { html: '<p title="&lt;img src=x onerror=window.pwned=91&gt;">t</p>' });
  render(el, { html: el.innerHTML });
  assert.equal(el.querySelectorAll('img').length, 0);
  assert.equal(el.querySelector('p').title, '<img src=x onerror=window.pwned=91>');
  for (const e of pg.doc.querySelectorAll('*')) e.dispatchEvent(new pg.win.Event('error'));
  assert.equal(pg.win.pwned, undefined);
  pg.win.close();
});
