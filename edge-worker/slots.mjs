// Slot rendering at the edge: decision content into `data-pz-slot` elements while HTMLRewriter
// streams the page, with the browser runtime's rules (js/src/runtime/dom.mjs `render`) and its
// allowlists (DROP, TAGS, okAttr, esc are imported from there). There is no DOM here: a slot's
// own markup is captured from the rewriter's events into a small tree while it streams (its
// bytes are held back until its end tag), and untrusted HTML is parsed by a second HTMLRewriter
// into the same kind of tree and written out from the allowlist only, so the output is always
// balanced, quoted and escaped. Nothing outside a decided slot is touched.

import { DROP, TAGS, esc, okAttr } from '../js/src/runtime/dom.mjs';

const XHTML = 'http://www.w3.org/1999/xhtml';
const VOID = new Set('area base br col embed hr img input link meta source track wbr'.split(' '));

/** Named character references decoded in attribute values; others stay literal text. */
const NAMED = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', colon: ':', sol: '/',
  Tab: '\t', NewLine: '\n', period: '.', num: '#', quest: '?', lpar: '(', rpar: ')', excl: '!',
  equals: '=', commat: '@', percnt: '%', plus: '+', comma: ',', semi: ';', lowbar: '_',
  copy: '\u00a9', reg: '\u00ae', hellip: '\u2026', mdash: '\u2014', ndash: '\u2013',
  lsquo: '\u2018', rsquo: '\u2019', ldquo: '\u201c', rdquo: '\u201d', euro: '\u20ac',
};

/**
 * An attribute value as HTMLRewriter gives it (the source text, references not decoded) → the
 * value a browser sees. Numeric references and the names in NAMED are decoded; other named
 * references stay as they are (and are then written back escaped, so the browser sees exactly
 * the value that was checked).
 * @param {string | null} raw
 */
export function decodeAttr(raw) {
  if (raw == null) return raw;
  return raw.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?/g, (m, r) => {
    if (r[0] !== '#') return Object.hasOwn(NAMED, r) ? NAMED[r] : m;
    const n = r[1] === 'x' || r[1] === 'X' ? parseInt(r.slice(2), 16) : parseInt(r.slice(1), 10);
    return n > 0 && n < 0x110000 && !(n >= 0xd800 && n < 0xe000)
      ? String.fromCodePoint(n)
      : '\ufffd';
  });
}

/**
 * A value for a double-quoted attribute. `<` and `>` need no escaping there, but escaped, no
 * markup-looking text is left in the page for a less careful reader of it (a proxy's filter, a
 * minifier) to take for a tag.
 */
const attrText = (v) =>
  String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** A text value (escapes & < > " '). */
const textOf = (v) => esc(String(v ?? ''));

/** Elements whose start tag closes an open <p> (the HTML tree builder's rule). */
const CLOSES_P = new Set(
  (
    'address article aside blockquote center details dialog dir div dl fieldset figcaption ' +
    'figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr main menu nav ol p pre section ' +
    'summary table ul li dd dt listing plaintext xmp'
  ).split(' '),
);
/** Elements that end the search for an open <p>, <li>, <dd> or <dt> to close. */
const SCOPE = new Set('applet caption html table td th marquee object template button'.split(' '));

/**
 * A tree built from HTMLRewriter events: elements {tag, ns, attrs: [[name, raw]], kids, end,
 * explicit} (end: whether the element can have an end tag; explicit: whether the source had
 * one), text {raw} (source text), comments {comment}, and ready markup {html}. HTMLRewriter is
 * a tokenizer, not a tree builder: the implied end tags that matter for slot content (a block
 * closes an open <p>, <li> closes <li>, <dd>/<dt> close each other) are applied here.
 */
export class Capture {
  constructor() {
    this.root = { kids: [] };
    this.stack = [this.root];
  }

  /** Closes the nearest open element named in `names` (within scope), if any. */
  closeImplied(names) {
    for (let i = this.stack.length - 1; i > 0; i--) {
      const n = this.stack[i];
      if (n.ns !== XHTML || SCOPE.has(n.tag)) return;
      if (names.includes(n.tag)) {
        this.stack.length = i;
        return;
      }
    }
  }

  /** An element start (from an element handler). */
  open(el) {
    const tag = el.tagName;
    const ns = el.namespaceURI;
    if (ns === XHTML) {
      if (CLOSES_P.has(tag)) this.closeImplied(['p']);
      if (tag === 'li') this.closeImplied(['li']);
      if (tag === 'dd' || tag === 'dt') this.closeImplied(['dd', 'dt']);
    }
    const node = { tag, ns, attrs: [...el.attributes], kids: [], explicit: false };
    this.stack[this.stack.length - 1].kids.push(node);
    try {
      el.onEndTag((end) => {
        node.explicit = end.name === tag;
        const i = this.stack.lastIndexOf(node);
        if (i > 0) this.stack.length = i;
      });
      node.end = true;
      this.stack.push(node);
    } catch {
      node.end = false; // a void or self-closing foreign element
    }
  }

  text(raw) {
    if (raw) this.stack[this.stack.length - 1].kids.push({ raw });
  }

  comment(text) {
    this.stack[this.stack.length - 1].kids.push({ comment: text });
  }
}

/**
 * Writes a captured tree back (the site's own markup: text, attribute values and end tags as the
 * source had them, so that a browser builds the same elements from it).
 */
export function serialize(nodes) {
  let s = '';
  for (const n of nodes) {
    if (n.html !== undefined) s += n.html;
    else if (n.raw !== undefined) s += n.raw;
    else if (n.comment !== undefined) s += `<!--${n.comment}-->`;
    else {
      s += '<' + n.tag;
      for (const [k, v] of n.attrs) s += ` ${k}="${v.replace(/"/g, '&quot;')}"`;
      if (!n.end) s += n.ns === XHTML ? '>' : ' />';
      else s += '>' + serialize(n.kids) + (n.explicit ? `</${n.tag}>` : '');
    }
  }
  return s;
}

/** Writes an untrusted tree through the allowlist: only TAGS, only okAttr attributes. */
function clean(nodes) {
  let s = '';
  for (const n of nodes) {
    if (n.raw !== undefined) s += n.raw.replace(/</g, '&lt;').replace(/>/g, '&gt;');
    // A comment is kept (as dom.mjs keeps it) unless its text could end it early elsewhere.
    if (n.comment !== undefined && !/^-?>|--!?>/.test(n.comment)) s += `<!--${n.comment}-->`;
    if (!n.tag || DROP.has(n.tag) || n.ns !== XHTML) continue;
    if (!TAGS.has(n.tag)) {
      s += clean(n.kids);
      continue;
    }
    s += '<' + n.tag;
    const seen = new Set();
    for (const [name, raw] of n.attrs) {
      const k = name.toLowerCase();
      const v = decodeAttr(raw);
      if (seen.has(k)) continue;
      seen.add(k);
      if (okAttr(k, v, 1)) s += ` ${k}="${attrText(v)}"`;
    }
    s += VOID.has(n.tag) ? '>' : '>' + clean(n.kids) + `</${n.tag}>`;
  }
  return s;
}

/**
 * Parses untrusted HTML (a decision's `content.html`, a filled template) and returns markup with
 * only allowlisted elements and attributes: balanced, every attribute value quoted and escaped,
 * text escaped. Scripts, handlers and unsafe URLs never come through.
 * @param {string} html
 * @returns {Promise<string>}
 */
export async function sanitize(html) {
  const cap = new Capture();
  await new HTMLRewriter()
    .on('*', { element: (el) => cap.open(el) })
    .onDocument({ text: (t) => cap.text(t.text), comments: (c) => cap.comment(c.text) })
    .transform(new Response(String(html), { headers: { 'content-type': 'text/html' } }))
    .arrayBuffer();
  return clean(cap.root.kids);
}

const attrOf = (n, name) => {
  const a = n.attrs.find(([k]) => k === name);
  return a ? decodeAttr(a[1]) : null;
};

/** The first `template[data-pz-template]` in document order (not inside a template). */
function findTemplate(nodes) {
  for (const n of nodes) {
    if (!n.tag) continue;
    if (n.tag === 'template') {
      if (attrOf(n, 'data-pz-template') !== null) return n;
      continue;
    }
    const t = findTemplate(n.kids);
    if (t) return t;
  }
  return null;
}

/** Each `[data-pz-field=name]` descendant (not inside a template) gets content[name] as text. */
function fillFields(nodes, content) {
  for (const n of nodes) {
    if (!n.tag || n.tag === 'template') continue;
    const name = attrOf(n, 'data-pz-field');
    const v = name === null ? undefined : content[name];
    if (v !== undefined && n.end) n.kids = [{ html: textOf(v) }];
    else fillFields(n.kids, content);
  }
}

/**
 * The new inner markup of a slot for object content (dom.mjs `render`): a
 * `<template data-pz-template>` in the slot filled from `{{field}}` placeholders (escaped, then
 * sanitized), else `content.html` (sanitized), replaces the slot's children (the template is
 * kept); then each `[data-pz-field]` descendant gets its field as text.
 * @param {object[]} kids the slot's captured children
 * @param {object} content
 */
export async function renderInner(kids, content) {
  const tpl = findTemplate(kids);
  const html = tpl
    ? serialize(tpl.kids).replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (_, k) => esc(content[k]))
    : content.html;
  if (typeof html === 'string') {
    const frag = { html: await sanitize(html) };
    kids = tpl ? [tpl, frag] : [frag];
  }
  fillFields(kids, content);
  return serialize(kids);
}

/** `content.attrs` on the slot element: allowlisted attributes set, null/false removes. */
function setAttrs(el, attrs) {
  if (!attrs || typeof attrs !== 'object') return;
  for (const [k, v] of Object.entries(attrs)) {
    const n = k.toLowerCase();
    if (v == null || v === false) {
      if (okAttr(n, '')) el.removeAttribute(n);
    } else if (okAttr(n, v)) {
      // HTMLRewriter writes the value as given (it only escapes `"`).
      el.setAttribute(n, String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    }
  }
}

/**
 * Adds the slot handlers to an HTMLRewriter. `decisionFor(name)` returns (a promise of) the
 * decision {action, content} for a slot name, or null to leave the slot to the browser runtime.
 * A decided slot gets `data-pz-decided` = the action id ("" for the slot's default) and its
 * content; a slot inside a decided slot is part of that slot's markup.
 * `slotsDeclared(names)` is told the names of a `<meta name="pz-slots" content="a,b">`.
 * @param {HTMLRewriter} rw
 * @param {{decisionFor: (name: string) => any, slotsDeclared?: (names: string[]) => void}} hooks
 * @returns {HTMLRewriter}
 */
export function slotRewriter(rw, { decisionFor, slotsDeclared }) {
  let cap = null; // the slot whose children are being captured
  return rw
    .on('meta[name="pz-slots"]', {
      element(el) {
        const names = (decodeAttr(el.getAttribute('content')) || '').split(/[\s,]+/);
        if (slotsDeclared) slotsDeclared(names.filter(Boolean));
      },
    })
    // Registered first, so that for a slot element this runs before its own slot handler below.
    .on('[data-pz-slot] *', {
      element(el) {
        if (cap) cap.open(el);
      },
    })
    .on('[data-pz-slot]', {
      async element(el) {
        if (cap || el.removed) return;
        // dom.mjs `renderable`: never into script, style, iframe, template, … or SVG/MathML.
        if (el.namespaceURI !== XHTML || DROP.has(el.tagName)) return;
        const name = decodeAttr(el.getAttribute('data-pz-slot'));
        if (!name) return;
        const d = await decisionFor(name);
        if (!d) return;
        const c = d.content;
        if (c != null && typeof c === 'object') {
          const mine = new Capture();
          try {
            el.onEndTag(async (end) => {
              cap = null;
              end.before(await renderInner(mine.root.kids, c), { html: true });
            });
          } catch {
            return; // a void element cannot hold content: left to the browser runtime
          }
          setAttrs(el, c.attrs);
          el.setInnerContent('');
          cap = mine;
        } else if (c != null) {
          el.setInnerContent(String(c));
        }
        el.setAttribute('data-pz-decided', String(d.action ?? '').replace(/&/g, '&amp;'));
      },
      // The text and comments inside a slot (its descendants' too), for the capture. Scoped to
      // the slots: a document-wide text handler made the rewriter hand on the page in a chunk
      // per text node (~40 writes for the demo page), and a browser that painted between two of
      // them showed half a header that then shifted.
      text(t) {
        if (cap) cap.text(t.text);
      },
      comments(c) {
        if (cap) cap.comment(c.text);
      },
    });
}
