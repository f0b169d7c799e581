// Slot rendering: decision content into `data-pz-slot` elements, through an allowlist sanitizer
// built on the DOM (a <template> parses the HTML inertly: no script runs, no resource loads), never
// on regular expressions over markup. Bundle content is data; nothing in it ever executes.

/** Elements removed with everything inside them (the edge worker's renderer uses it too). */
export const DROP = new Set(
  (
    'script style iframe frame frameset object embed applet form link meta base ' +
    'svg math template noscript noembed noframes xmp plaintext textarea select title'
  ).split(' '),
);
/** Elements kept (with allowlisted attributes); any other element is replaced by its children. */
export const TAGS = new Set(
  (
    'a abbr b bdi bdo blockquote br caption cite code col colgroup dd del dfn div ' +
    'dl dt em figcaption figure h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp ' +
    'small ' +
    'span strong sub sup table tbody td tfoot th thead time tr u ul wbr section article header ' +
    'footer aside'
  ).split(' '),
);
/** Attributes allowed on elements inside sanitized HTML (besides those allowed on the slot). */
const INNER = /^(width|height|colspan|rowspan|scope|lang|dir|target|rel|datetime)$/;

/**
 * True for a URL that is relative or http(s): never javascript:, data:, vbscript: or any other
 * scheme. Whitespace and control characters are ignored as browsers ignore them.
 * @param {string} url
 */
export const safeUrl = (url) => {
  const u = String(url).replace(/[\0- ]+/g, '');
  return /^https?:/i.test(u) || !/^[^/?#]*:/.test(u);
};

/**
 * Whether attribute `name` (lower case) with `value` may be set: class, alt, title, aria-*,
 * data-* except data-pz-*, href/src with a safe URL; `inner` adds the layout attributes allowed
 * inside sanitized HTML (and cite URLs). No on* handler, style, id or name, ever.
 */
export const okAttr = (name, value, inner) =>
  /^(class|alt|title|aria-[\w-]+|data-(?!pz-)[\w-]+)$/.test(name) ||
  (inner && INNER.test(name)) ||
  ((name === 'href' || name === 'src' || (inner && name === 'cite')) && safeUrl(value));

/** HTML-escapes a value for a template placeholder (null/undefined → ''). */
export const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Cleans a parsed tree in place. */
function clean(node) {
  for (const el of [...node.children]) {
    if (DROP.has(el.localName) || el.namespaceURI !== 'http://www.w3.org/1999/xhtml') {
      el.remove();
      continue;
    }
    clean(el);
    if (!TAGS.has(el.localName)) {
      el.replaceWith(...el.childNodes);
      continue;
    }
    for (const a of [...el.attributes]) {
      if (!okAttr(a.name, a.value, 1)) el.removeAttribute(a.name);
    }
  }
}

/**
 * Parses untrusted HTML inertly and returns a fragment with only allowlisted elements and
 * attributes.
 * @param {string} html
 * @param {Document} doc
 * @returns {DocumentFragment}
 */
export function sanitize(html, doc) {
  const t = doc.createElement('template');
  t.innerHTML = String(html);
  clean(t.content);
  return t.content;
}

/**
 * Whether decision content may be rendered into this slot element: never into an element that
 * sanitized HTML drops (script, style, iframe, object, template, textarea, title, …) or into
 * SVG/MathML. Text in an empty <script> runs, a `src` set on it loads a script, an `href` on
 * <base> moves every relative URL of the page: such a slot keeps the site's own markup.
 * @param {Element} el
 */
export const renderable = (el) =>
  el.namespaceURI === 'http://www.w3.org/1999/xhtml' && !DROP.has(el.localName);

/**
 * Renders decision content into a slot element (nothing when it is not `renderable`). A string
 * (or number) → textContent; an object →
 * a `<template data-pz-template>` in the slot rendered with `{{field}}` placeholders (escaped,
 * then sanitized), else `content.html` (sanitized), then each `[data-pz-field=name]` descendant
 * gets textContent = content[name], and `content.attrs` sets allowlisted attributes on the slot.
 * `null`/`undefined` content leaves the slot's default markup as it is.
 * @param {Element} el
 * @param {unknown} content
 */
export function render(el, content) {
  if (content == null || !renderable(el)) return;
  if (typeof content !== 'object') {
    el.textContent = String(content);
    return;
  }
  const doc = el.ownerDocument;
  const tpl = el.querySelector('template[data-pz-template]');
  const html = tpl
    ? tpl.innerHTML.replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (_, k) => esc(content[k]))
    : content.html;
  if (typeof html === 'string') {
    const frag = sanitize(html, doc);
    tpl ? el.replaceChildren(tpl, frag) : el.replaceChildren(frag);
  }
  for (const f of el.querySelectorAll('[data-pz-field]')) {
    const v = content[f.getAttribute('data-pz-field')];
    if (v !== undefined) f.textContent = String(v ?? '');
  }
  const attrs = content.attrs;
  if (attrs && typeof attrs === 'object') {
    for (const [k, v] of Object.entries(attrs)) {
      const n = k.toLowerCase();
      if (v == null || v === false) {
        if (okAttr(n, '')) el.removeAttribute(n);
      } else if (okAttr(n, v)) {
        el.setAttribute(n, String(v));
      }
    }
  }
}
