// Differential test: the native `pz eval` JsonLogic engine against the reference
// implementation json-logic-js 2.0.5 (the oracle, evaluated in-process).
//
//   node --test tests/js/jsonlogic_diff.test.mjs
//
// Environment:
//   PZ_BIN          path of the CLI (default: <repo>/build/pz)
//   PZ_DIFF_SEED    PRNG seed of the random generator (default below; printed on every run)
//   PZ_DIFF_CASES   number of random cases (default 20000)
//
// Protocol of `pz eval`: one stdin line {"rule": <JsonLogic>, "data": <JSON>} gives one stdout line
// {"result": <JSON.stringify of the result>} or {"error": "<message>"}; undefined prints as null.
//
// Deliberate differences (tests/vectors/exceptions.json) are never generated: a second,
// instrumented copy of json-logic-js replays every candidate case and rejects the ones that
// touch an inherited (prototype-chain) property, use `log`, or make `missing`/`missing_some`
// re-apply a single-key object as logic.
//
// All mismatches go to build/jsonlogic-diff-failures.jsonl (one JSON object per line).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { PZ_BIN, ROOT, envInt, envSeed, mulberry32 } from './harness.mjs';
import jsonLogic from 'json-logic-js';

const FAILURES_FILE = path.join(ROOT, 'build', 'jsonlogic-diff-failures.jsonl');
const DEFAULT_SEED = 0x5eed2024;
const SEED = envSeed('PZ_DIFF_SEED', DEFAULT_SEED);
const N_CASES = envInt('PZ_DIFF_CASES', 20000);
const MAX_LINE = 6000; // generated input lines longer than this are regenerated (keeps the run fast)

// ---------------------------------------------------------------------------------------------
// Oracle side
// ---------------------------------------------------------------------------------------------

/** The expected stdout line for one input line, computed by json-logic-js. */
function oracleLine(line) {
  let parsed;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { line: null, error: 'malformed line' };
  }
  try {
    const r = jsonLogic.apply(parsed.rule, parsed.data);
    return { line: JSON.stringify({ result: r === undefined ? null : r }), error: null };
  } catch (e) {
    return { line: null, error: String(e && e.message) };
  }
}

const ERROR_LINE = /^\{"error":"(?:[^"\\\u0000-\u001f]|\\.)*"\}$/;

/** Does one got-line satisfy one expectation? A thrown error accepts any error message. */
function lineMatches(exp, got) {
  if (got === undefined) return false;
  if (exp.line !== null) return got === exp.line;
  if (!ERROR_LINE.test(got)) return false;
  try {
    const o = JSON.parse(got);
    return typeof o.error === 'string';
  } catch {
    return false;
  }
}

/** A second, private instance of json-logic-js whose var/missing/missing_some/log are instrumented. */
function makeChecker() {
  const require = createRequire(import.meta.url);
  const src = fs.readFileSync(require.resolve('json-logic-js'), 'utf8');
  const mod = { exports: {} };
  // eslint-disable-next-line no-new-func
  new Function('module', 'exports', src)(mod, mod.exports);
  const jl = mod.exports;
  assert.notEqual(jl, jsonLogic, 'checker must be a separate instance');
  const state = { flag: null };
  const flag = (why) => { if (!state.flag) state.flag = why; };
  const inherited = (v, key) => {
    const o = Object(v);
    return !Object.prototype.hasOwnProperty.call(o, key) && key in o;
  };
  const hasLogicInside = (v) => (Array.isArray(v) ? v.some(hasLogicInside) : jl.is_logic(v));

  // Same code as json-logic-js 2.0.5 "var", plus the prototype-chain check on every step.
  jl.add_operation('var', function (a, b) {
    const notFound = b === undefined ? null : b;
    let data = this;
    if (typeof a === 'undefined' || a === '' || a === null) return data;
    const subProps = String(a).split('.');
    for (let i = 0; i < subProps.length; i++) {
      if (data === null || data === undefined) return notFound;
      if (inherited(data, subProps[i])) flag(`prototype-chain: ${JSON.stringify(subProps[i])}`);
      data = data[subProps[i]];
      if (data === undefined) return notFound;
    }
    return data;
  });
  jl.add_operation('missing', function () {
    const missing = [];
    const keys = Array.isArray(arguments[0]) ? arguments[0] : arguments;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (hasLogicInside(key)) flag('missing-key-is-logic');
      const value = jl.apply({ var: key }, this);
      if (value === null || value === '') missing.push(key);
    }
    return missing;
  });
  jl.add_operation('missing_some', function (needCount, options) {
    if (hasLogicInside(options)) flag('missing-key-is-logic');
    const areMissing = jl.apply({ missing: options }, this);
    if (options.length - areMissing.length >= needCount) return [];
    return areMissing;
  });
  jl.add_operation('log', function (a) { flag('log'); return a; });

  return {
    /** null when the case is fine, else the name of the deliberate difference it touches. */
    check(line) {
      state.flag = null;
      const o = JSON.parse(line);
      try {
        jl.apply(o.rule, o.data);
      } catch {
        // errors are fine; flags raised before the throw still count
      }
      return state.flag;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Serialization (the generator's own value model, so that the input text can carry -0,
// alternative number spellings, non-sorted integer-like keys and \u escapes)
// ---------------------------------------------------------------------------------------------

/** A JSON object with explicit entry order (JSON text order, not JavaScript property order). */
class Obj {
  constructor(entries) { this.entries = entries; }
  get(k) {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i][0] === k) return this.entries[i][1];
    return undefined;
  }
}
/** A number literal written with exactly this text (e.g. "1.0", "1E2", "-0.0"). */
class Raw {
  constructor(text) { this.text = text; }
}

const escapeNonAscii = (s) => JSON.stringify(s)
  .replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
  .replace(/\//g, '\\/');

function ser(v, opt = {}) {
  if (v instanceof Raw) return v.text;
  if (v === null) return 'null';
  const sp = opt.spaces ? ' ' : '';
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw new Error('non-finite number in generated JSON');
      return Object.is(v, -0) ? '-0' : JSON.stringify(v);
    case 'boolean': return v ? 'true' : 'false';
    case 'string': return opt.escape ? escapeNonAscii(v) : JSON.stringify(v);
    default:
      if (Array.isArray(v)) return '[' + v.map((x) => ser(x, opt)).join(',' + sp) + ']';
      if (v instanceof Obj) {
        return '{' + v.entries.map(([k, x]) => ser(k, opt) + ':' + sp + ser(x, opt)).join(',' + sp) + '}';
      }
      if (typeof v === 'object') return ser(new Obj(Object.entries(v)), opt);
      throw new Error('cannot serialize ' + typeof v);
  }
}

/** Plain JS value (Obj -> object, Raw -> number) for tables written as JS literals. */
function toModel(v) {
  if (v instanceof Obj || v instanceof Raw || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toModel);
  return new Obj(Object.entries(v).map(([k, x]) => [k, toModel(x)]));
}

function caseLine(rule, data, opt = {}) {
  const r = ser(rule, opt);
  const d = ser(data, opt);
  const sp = opt.spaces ? ' ' : '';
  return opt.dataFirst
    ? `{"data":${sp}${d},${sp}"rule":${sp}${r}}`
    : `{"rule":${sp}${r},${sp}"data":${sp}${d}}`;
}

// ---------------------------------------------------------------------------------------------
// Random generator
// ---------------------------------------------------------------------------------------------


const NUMBERS = [0, 1, 2, 3, -1, -2, -0, 0.5, 1.5, -2.5, 7, 10, 42, 100, 255, 0.1, 0.2, 0.3, 3.14159,
  1e21, 1e-7, 1e-6, 123456789012345680000, 9007199254740993, 4294967295, 4294967296, 2147483648,
  -2147483649, 1e300, -1e300, 5e-324, 1.7976931348623157e308, 1e20, 999999999999999900000, 0.000001234];
const RAW_NUMBERS = ['1.0', '1E2', '1e+2', '-0.0', '0.1e1', '10E-1', '2.50', '-0E0', '100e-2', '1e21', '1E-7'];
const NUMERIC_STRINGS = ['1', ' 2 ', '0x10', '1e3', '', 'abc', '3px', '0', '-0', '1.5', '.5', '5.',
  'Infinity', '-Infinity', 'NaN', '\t7\n', '0b11', '0o17', '1,2', 'true', 'null', '10', '9', '+3',
  '00012', '1_000', '\u00a05', '1e400', '-1e-7', '0.1', ' ', '0X1f', '1e', '--1', '٣'];
const TEXT_STRINGS = ['a', 'b', 'A', 'B', 'abc', 'jsonlogic', 'é', 'É', 'ß', '日本', '😀', '😀abc', 'a😀b',
  '👍🏽', '\uffff', 'ｚ', '€', 'naïve', 'a.b', 'x', 'hello world', 'null', 'undefined', '[object Object]',
  'line\nbreak', 'tab\t', 'quote"', 'back\\slash', '\u0001', 'Ω', 'ключ', '\u2028', ','];
const KEYS = ['a', 'b', 'c', 'x', 'y', 'z', 'n', 's', 'arr', 'obj', 'list', 'user', 'tags', 'score',
  'name', 'é', '😀', 'ключ', '1', '0', '10', '2', '01', '-1', '4294967294', '4294967295', 'a b', '',
  'a.b', 'current', 'accumulator', 'length', '1.5', 'e1'];
const PATH_POOL = ['a', 'b', 'c', 'x', 'y.z', 'arr', 'arr.0', 'arr.1', 'arr.length', 'obj', 'obj.a',
  'obj.b.c', 'list.0.name', 'list.1.score', 'user.name', 's.0', 's.length', 'n', 'missing', 'a.b.c',
  '1', '0', '10', '01', '-1', 'é', '😀', 'ключ', 'a..b', 'a.', '.a', '', 'a b', '1.5', 'tags.2',
  'name.length', 'score', 'nope.nope', '4294967295'];

class Gen {
  constructor(seed) {
    this.rand = mulberry32(seed);
  }
  int(n) { return Math.floor(this.rand() * n); }
  chance(p) { return this.rand() < p; }
  pick(a) { return a[this.int(a.length)]; }
  range(lo, hi) { return lo + this.int(hi - lo + 1); }

  // ---- literal values (inside rules: objects never have exactly one key) ----
  number() { return this.chance(0.06) ? new Raw(this.pick(RAW_NUMBERS)) : this.pick(NUMBERS); }
  numberish() {
    const r = this.rand();
    if (r < 0.55) return this.number();
    if (r < 0.85) return this.pick(NUMERIC_STRINGS);
    if (r < 0.9) return this.chance(0.5);
    if (r < 0.94) return null;
    return this.pick([[], [0], ['1'], [5], [1, 2], [[]], [null]]);
  }
  string() { return this.chance(0.5) ? this.pick(TEXT_STRINGS) : this.pick(NUMERIC_STRINGS); }
  literal(depth = 2) {
    const r = this.rand();
    if (r < 0.3) return this.number();
    if (r < 0.58) return this.string();
    if (r < 0.66) return this.chance(0.5);
    if (r < 0.72) return null;
    if (r < 0.9) return this.literalArray(depth);
    return this.literalObject(depth);
  }
  literalArray(depth) {
    const fixed = [[], [0], ['1'], [[]], [1, 2], [1, [2, [3]]], [null], ['a', 'b'], [true, false],
      [new Obj([])], [1, '1', [1]], [[0]], ['😀', 'é']];
    if (depth <= 0 || this.chance(0.5)) return this.pick(fixed);
    const n = this.range(0, 4);
    return Array.from({ length: n }, () => this.literal(depth - 1));
  }
  literalObject(depth) {
    if (depth <= 0 || this.chance(0.35)) return new Obj([]);
    const n = this.range(2, 3);
    return new Obj(this.distinctKeys(n).map((k) => [k, this.literal(depth - 1)]));
  }
  distinctKeys(n) {
    const ks = new Set();
    while (ks.size < n) ks.add(this.pick(KEYS));
    return [...ks];
  }

  // ---- data (any shape, single-key objects allowed) ----
  dataValue(depth) {
    const r = this.rand();
    if (depth <= 0 || r < 0.45) {
      const s = this.rand();
      if (s < 0.35) return this.number();
      if (s < 0.4) return '';
      if (s < 0.75) return this.string();
      if (s < 0.88) return this.chance(0.5);
      return null;
    }
    if (r < 0.72) {
      const n = this.chance(0.1) ? 0 : this.range(1, 5);
      // arrays of records, of numbers, or mixed
      const kind = this.int(3);
      return Array.from({ length: n }, () => (kind === 0 ? this.record(depth - 1)
        : kind === 1 ? this.numberish() : this.dataValue(depth - 1)));
    }
    return this.dataObject(depth - 1, 0, 4);
  }
  record(depth) {
    return new Obj(this.distinctKeys(this.range(1, 3)).map((k) => [k, this.dataValue(depth)]));
  }
  dataObject(depth, lo, hi) {
    return new Obj(this.distinctKeys(this.range(lo, hi)).map((k) => [k, this.dataValue(depth)]));
  }
  topData() {
    const r = this.rand();
    if (r < 0.08) return this.dataValue(2);
    if (r < 0.1) return null;
    return this.dataObject(3, 3, 9);
  }

  // ---- var paths that mostly hit the current data context ----
  walkPath(ctx) {
    const segs = [];
    let cur = ctx;
    const len = this.range(1, 3);
    for (let i = 0; i < len; i++) {
      let seg;
      if (cur instanceof Obj) {
        seg = cur.entries.length && !this.chance(0.1) ? this.pick(cur.entries)[0] : this.pick(KEYS);
        cur = cur.get(seg);
      } else if (Array.isArray(cur)) {
        const r = this.rand();
        if (r < 0.65 && cur.length) { const j = this.int(cur.length); seg = String(j); cur = cur[j]; }
        else if (r < 0.8) { seg = 'length'; cur = cur.length; }
        else { seg = this.pick([String(cur.length), '-1', '01', '1.0', 'foo', '+1', ' 1']); cur = undefined; }
      } else if (typeof cur === 'string') {
        seg = this.chance(0.4) ? 'length' : String(this.int(cur.length + 1));
        cur = undefined;
      } else {
        if (!this.chance(0.2) || segs.length === 0) break;
        seg = this.pick(KEYS);
        cur = undefined;
      }
      segs.push(seg);
      if (cur === undefined || cur === null) break;
    }
    if (segs.length === 0) return this.pick(PATH_POOL);
    return segs.join('.');
  }
  /** Value at a dotted path in the generator's model (undefined when not found/unknown). */
  lookup(ctx, p) {
    if (p === '') return ctx;
    let cur = ctx;
    for (const s of String(p).split('.')) {
      if (cur instanceof Obj) cur = cur.get(s);
      else if (Array.isArray(cur)) cur = /^(0|[1-9]\d*)$/.test(s) ? cur[Number(s)] : undefined;
      else return undefined;
      if (cur === undefined) return undefined;
    }
    return cur;
  }
  path(ctx) { return this.chance(0.8) ? this.walkPath(ctx) : this.pick(PATH_POOL); }

  varRule(depth, ctx) {
    const p = this.path(ctx);
    const r = this.rand();
    if (r < 0.35) return op('var', p);
    if (r < 0.55) return op('var', [p]);
    if (r < 0.78) return op('var', [p, depth > 0 && this.chance(0.3) ? this.rule(depth - 1, ctx) : this.literal(1)]);
    if (r < 0.82) return op('var', this.pick([[], '', null, [null], [null, 1], [''], [[]]]));
    if (r < 0.85) return op('var', [p, this.literal(1), this.literal(1)]);
    if (r < 0.92) return op('var', this.pick([0, 1, 2, -0, 1.5, true, false, new Raw('1.0'), [0], [1, 'd'], [-1, 'd']]));
    // computed path
    const segs = p.split('.');
    const cat = op('cat', segs.length > 1 ? [segs[0], '.', segs.slice(1).join('.')] : [p]);
    return op('var', this.chance(0.5) ? cat : [cat, this.literal(1)]);
  }

  key(ctx) {
    if (this.chance(0.25)) {
      const eps = this.emptyishPaths(ctx);
      if (eps.length) return this.pick(eps);
    }
    const r = this.rand();
    if (r < 0.7) return this.path(ctx);
    if (r < 0.8) return this.pick([0, 1, 2, 1.5, -0, true, null]);
    if (r < 0.9) return this.varRule(0, ctx);
    return this.pick(PATH_POOL);
  }
  keyList(ctx, lo, hi) { return Array.from({ length: this.range(lo, hi) }, () => this.key(ctx)); }

  missingRule(depth, ctx) {
    const r = this.rand();
    if (r < 0.35) return op('missing', this.keyList(ctx, 1, 4));
    if (r < 0.5) return op('missing', this.key(ctx));
    if (r < 0.62) return op('missing', [this.keyList(ctx, 0, 3), ...this.keyList(ctx, 0, 2)]);
    if (r < 0.72) return op('missing', op('merge', [this.keyList(ctx, 0, 2), this.keyList(ctx, 0, 2)]));
    if (r < 0.8) return op('missing', []);
    if (r < 0.88) return op('missing', [[this.keyList(ctx, 1, 2)]]);
    return op('missing', op('if', [this.rule(Math.max(0, depth - 1), ctx), this.keyList(ctx, 1, 2), this.keyList(ctx, 1, 2)]));
  }
  missingSomeRule(depth, ctx) {
    const need = this.pick([0, 1, 1, 2, 2, 3, '1', -1, null, 1.5, true, '']);
    const r = this.rand();
    let options;
    if (r < 0.6) options = this.keyList(ctx, 0, 4);
    else if (r < 0.7) options = op('merge', [this.keyList(ctx, 0, 2), this.keyList(ctx, 0, 2)]);
    else if (r < 0.78) options = this.varRule(0, ctx);
    else if (r < 0.86) options = [this.keyList(ctx, 1, 2), ...this.keyList(ctx, 0, 2)];
    else options = this.pick([null, 'ab', 3, [], new Obj([]), true]);
    const a = this.rand();
    if (a < 0.9) return op('missing_some', [need, options]);
    if (a < 0.95) return op('missing_some', [need]);
    return op('missing_some', this.chance(0.5) ? [] : need);
  }

  /** An expression whose value is (usually) an array, with a sample element for the inner scope. */
  arrayExpr(depth, ctx) {
    const r = this.rand();
    if (r < 0.4) {
      // a var that points at an array (or anything) in the data
      const arrPaths = this.arrayPaths(ctx);
      const p = arrPaths.length && this.chance(0.85) ? this.pick(arrPaths) : this.path(ctx);
      const v = this.lookup(ctx, p);
      return { rule: op('var', this.chance(0.8) ? p : [p, this.literalArray(1)]), sample: sampleOf(v, this) };
    }
    if (r < 0.75) {
      const n = this.range(0, 5);
      const kind = this.int(4);
      const arr = Array.from({ length: n }, () => (kind === 0 ? this.numberish() : kind === 1 ? this.literal(1)
        : kind === 2 ? this.literalObject(1) : this.string()));
      return { rule: arr, sample: sampleOf(arr, this) };
    }
    if (r < 0.85) {
      const a = this.arrayExpr(depth - 1, ctx);
      return { rule: op('merge', [a.rule, this.literalArray(1)]), sample: a.sample };
    }
    if (r < 0.92 && depth > 0) {
      const a = this.arrayExpr(depth - 1, ctx);
      return { rule: op(this.pick(['map', 'filter']), [a.rule, this.rule(depth - 1, a.sample)]), sample: undefined };
    }
    // not an array at all
    const v = this.literal(1);
    return { rule: v, sample: undefined };
  }
  arrayPaths(ctx, prefix = '', out = [], depth = 0) {
    if (depth > 3) return out;
    if (Array.isArray(ctx) && prefix !== '') out.push(prefix);
    if (ctx instanceof Obj) {
      for (const [k, v] of ctx.entries) {
        if (k === '' || k.includes('.')) continue;
        this.arrayPaths(v, prefix === '' ? k : prefix + '.' + k, out, depth + 1);
      }
    } else if (Array.isArray(ctx)) {
      ctx.forEach((v, i) => this.arrayPaths(v, prefix === '' ? String(i) : prefix + '.' + i, out, depth + 1));
    }
    return out;
  }

  /** Paths (from ctx) to arrays and objects, for reference-identity and deep-copy cases. */
  containerPaths(ctx, prefix = '', out = [], depth = 0) {
    if (depth > 3) return out;
    if (prefix !== '' && (Array.isArray(ctx) || ctx instanceof Obj)) out.push(prefix);
    const sub = (k, v) => this.containerPaths(v, prefix === '' ? k : prefix + '.' + k, out, depth + 1);
    if (ctx instanceof Obj) {
      for (const [k, v] of ctx.entries) if (k !== '' && !k.includes('.')) sub(k, v);
    } else if (Array.isArray(ctx)) {
      ctx.forEach((v, i) => sub(String(i), v));
    }
    return out;
  }
  /** A value related to v under JavaScript coercion (or a deep copy of it). */
  twin(v) {
    if (v instanceof Raw) v = Number(v.text);
    if (typeof v === 'number') {
      const t = Object.is(v, -0) ? '-0' : String(v);
      const cands = [t, [v], [t], ' ' + t + ' ', t + '.0', -v, v, v + 1];
      if (v === 0) cands.push(false, '', [], [[]], null, '0x0');
      if (v === 1) cands.push(true, '1e0', '0x1');
      return this.pick(cands);
    }
    if (typeof v === 'string') {
      const n = Number(v);
      const cands = [[v], [[v]], v.trim(), v.toUpperCase(), v + 'a', v.slice(0, -1)];
      if (v.trim() !== '' && Number.isFinite(n)) cands.push(n, -n, n + 1);
      if (v === '') cands.push(0, [], false, null);
      return this.pick(cands);
    }
    if (typeof v === 'boolean') return this.pick([v ? 1 : 0, v ? '1' : '0', v ? [1] : [], String(v), !v]);
    if (v === null) return this.pick([0, '', false, [], 'null', null, [null]]);
    if (Array.isArray(v)) {
      if (v.length === 0) return this.pick([[], '', 0, false, [[]], [null]]);
      const j = v.map((x) => (x === null || x instanceof Obj || Array.isArray(x) ? '' : x instanceof Raw ? Number(x.text) : x)).join(',');
      return this.pick([v, j, v.slice(0, -1), [v], v.length === 1 ? v[0] : j]);
    }
    return this.pick([v, '[object Object]', new Obj([])]); // Obj: a deep copy is a distinct object
  }
  /** Paths to falsy-ish leaves (null, "", 0, false, []) for missing/missing_some. */
  emptyishPaths(ctx, prefix = '', out = [], depth = 0) {
    if (depth > 3) return out;
    if (prefix !== '' && (ctx === null || ctx === '' || ctx === 0 || ctx === false || (Array.isArray(ctx) && !ctx.length))) out.push(prefix);
    const sub = (k, v) => this.emptyishPaths(v, prefix === '' ? k : prefix + '.' + k, out, depth + 1);
    if (ctx instanceof Obj) {
      for (const [k, v] of ctx.entries) if (k !== '' && !k.includes('.')) sub(k, v);
    } else if (Array.isArray(ctx)) {
      ctx.forEach((v, i) => sub(String(i), v));
    }
    return out;
  }
  /** Two related arguments for comparisons: same reference, deep copy, coerced twin, equal literals. */
  relatedPair(d, ctx) {
    const r = this.rand();
    const cps = this.containerPaths(ctx);
    let pair;
    if (r < 0.2 && cps.length) {
      const p = this.pick(cps);
      pair = [op('var', p), op('var', this.chance(0.8) ? p : [p, 0])];
    } else if (r < 0.4 && cps.length) {
      const p = this.pick(cps);
      const v = this.lookup(ctx, p);
      pair = [op('var', p), literalSafe(v) ? (this.chance(0.7) ? v : this.twin(v)) : this.literal(1)];
    } else if (r < 0.55) {
      const p = this.walkPath(ctx);
      const v = this.lookup(ctx, p);
      pair = [op('var', p), v !== undefined && literalSafe(v) ? this.twin(v) : this.numberish()];
    } else if (r < 0.85) {
      const v = this.chance(0.7) ? this.numberish() : this.literal(1);
      pair = [v, this.twin(v)];
    } else {
      const v = this.literalArray(1);
      pair = [v, this.chance(0.7) ? v : this.twin(v)];
    }
    return this.chance(0.5) ? pair : [pair[1], pair[0]];
  }
  /** needle/haystack pairs for "in" where the needle is often (a coerced form of) an element. */
  inPair(d, ctx) {
    const r = this.rand();
    const aps = this.arrayPaths(ctx);
    if (r < 0.3 && aps.length) {
      const p = this.pick(aps);
      const arr = this.lookup(ctx, p);
      if (Array.isArray(arr) && arr.length) {
        const i = this.int(arr.length);
        const el = arr[i];
        const needle = this.chance(0.4) ? op('var', p + '.' + i)
          : literalSafe(el) ? (this.chance(0.5) ? el : this.twin(el)) : this.numberish();
        return [needle, op('var', p)];
      }
    }
    if (r < 0.6) {
      const arr = this.chance(0.5) ? this.literalArray(1) : Array.from({ length: this.range(1, 4) }, () => this.numberish());
      const el = arr.length ? this.pick(arr) : this.numberish();
      return [this.chance(0.5) ? el : this.twin(el), arr];
    }
    const str = this.chance(0.5) ? this.string() : this.pick(TEXT_STRINGS);
    const a = this.int(str.length + 1);
    const b = a + this.int(str.length - a + 1);
    const needle = this.chance(0.7) ? str.slice(a, b) : this.twin(str.slice(a, b));
    if (this.chance(0.3)) {
      const p = this.walkPath(ctx);
      return [needle, op('var', p)];
    }
    return [needle, str];
  }

  /** Argument list with the usual arity most of the time, else 0/1/3 args or the unary sugar. */
  args(normal, mk) {
    const r = this.rand();
    let n;
    if (r < 0.82) n = typeof normal === 'number' ? normal : normal();
    else if (r < 0.86) n = 0;
    else if (r < 0.9) n = 1;
    else if (r < 0.94) n = 3;
    else {
      let a = mk(0);
      if (Array.isArray(a)) a = this.chance(0.5) ? this.literal(0) : [a]; // sugar needs a non-array
      return Array.isArray(a) ? a : { sugar: a };
    }
    return Array.from({ length: n }, (_, i) => mk(i));
  }

  /** Argument generators biased by the operator's domain. */
  anyArg(depth, ctx) {
    const r = this.rand();
    if (depth > 0 && r < 0.38) return this.rule(depth - 1, ctx);
    if (r < 0.62) return this.varRule(Math.max(0, depth - 1), ctx);
    return this.literal(1);
  }
  numArg(depth, ctx) {
    const r = this.rand();
    if (depth > 0 && r < 0.3) return this.rule(depth - 1, ctx, NUMERIC_OPS);
    if (r < 0.55) return this.varRule(Math.max(0, depth - 1), ctx);
    return this.numberish();
  }
  strArg(depth, ctx) {
    const r = this.rand();
    if (depth > 0 && r < 0.25) return this.rule(depth - 1, ctx);
    if (r < 0.55) return this.varRule(Math.max(0, depth - 1), ctx);
    return this.chance(0.75) ? this.string() : this.literal(1);
  }

  rule(depth, ctx, ops = ALL_OPS) {
    if (depth <= 0 || this.chance(0.12)) {
      return this.chance(0.55) ? this.varRule(0, ctx) : this.literal(1);
    }
    const name = this.pick(ops);
    const d = depth - 1;
    const A = (mk, normal) => {
      const a = this.args(normal, mk);
      return a && a.sugar !== undefined && !Array.isArray(a) ? op(name, a.sugar) : op(name, a);
    };
    switch (name) {
      case 'var': return this.varRule(depth, ctx);
      case 'missing': return this.missingRule(depth, ctx);
      case 'missing_some': return this.missingSomeRule(depth, ctx);
      case 'if': case '?:':
        return A(() => this.anyArg(d, ctx), () => this.pick([2, 3, 3, 3, 4, 5, 5, 6]));
      case '==': case '===': case '!=': case '!==':
        if (this.chance(0.45)) return op(name, this.relatedPair(d, ctx));
        return A(() => (this.chance(0.5) ? this.anyArg(d, ctx) : this.numberish()), 2);
      case '<': case '<=': case '>': case '>=': {
        const three = name === '<' || name === '<=';
        if (this.chance(0.15)) {
          const str = () => (this.chance(0.5) ? this.pick(NUMERIC_STRINGS) : this.pick(TEXT_STRINGS));
          return op(name, three && this.chance(0.3) ? [str(), str(), str()] : [str(), str()]);
        }
        if (this.chance(0.3)) {
          const pair = this.relatedPair(d, ctx);
          return op(name, three && this.chance(0.3) ? [...pair, this.pick([pair[0], this.numberish()])] : pair);
        }
        const mk = () => (this.chance(0.5) ? this.numArg(d, ctx) : this.anyArg(d, ctx));
        return A(mk, three ? () => this.pick([2, 2, 3]) : 2);
      }
      case '!': case '!!':
        return this.chance(0.5) ? op(name, this.anyArg(d, ctx)) : A(() => this.anyArg(d, ctx), 1);
      case 'or': case 'and':
        return A(() => this.anyArg(d, ctx), () => this.range(1, 4));
      case 'max': case 'min': case '+': case '*':
        return A(() => this.numArg(d, ctx), () => this.range(1, 4));
      case '-':
        return A(() => this.numArg(d, ctx), () => this.pick([1, 2, 2]));
      case '/': case '%':
        return A(() => this.numArg(d, ctx), 2);
      case 'cat':
        return A(() => (this.chance(0.8) ? this.strArg(d, ctx) : this.anyArg(d, ctx)), () => this.range(1, 4));
      case 'substr':
        return A((i) => (i === 0 ? this.strArg(d, ctx)
          : this.chance(0.7) ? this.pick([0, 1, 2, 3, -1, -2, -5, 10, -10, 1.5, '1', '-1', '-2', ' -1', '-0', null, ' 2 ', 'x', true, -0, [-1], -1.5])
            : this.numArg(d, ctx)), () => this.pick([1, 2, 2, 3, 3, 3]));
      case 'in': {
        if (this.chance(0.5)) return op('in', this.inPair(d, ctx));
        const needle = () => (this.chance(0.6) ? this.strArg(d, ctx) : this.anyArg(d, ctx));
        const hay = () => (this.chance(0.4) ? this.strArg(d, ctx) : this.chance(0.6) ? this.arrayExpr(d, ctx).rule : this.anyArg(d, ctx));
        return A((i) => (i === 0 ? needle() : hay()), 2);
      }
      case 'merge':
        return A(() => (this.chance(0.6) ? this.arrayExpr(d, ctx).rule : this.anyArg(d, ctx)), () => this.range(1, 4));
      case 'map': case 'filter': case 'all': case 'none': case 'some': {
        const a = this.arrayExpr(d, ctx);
        const inner = a.sample === undefined ? this.dataValue(1) : a.sample;
        const r = this.rand();
        if (r < 0.9) return op(name, [a.rule, this.rule(d, inner, name === 'map' ? ALL_OPS : PREDICATE_OPS)]);
        if (r < 0.94) return op(name, [a.rule]);
        if (r < 0.97) return op(name, []);
        return op(name, [a.rule, this.rule(d, inner), this.literal(0)]);
      }
      case 'reduce': {
        const a = this.arrayExpr(d, ctx);
        const init = this.chance(0.75) ? (this.chance(0.7) ? this.numberish() : this.literal(1)) : undefined;
        const elem = a.sample === undefined ? this.dataValue(1) : a.sample;
        const inner = new Obj([['current', elem], ['accumulator', init === undefined ? null : toPlainSample(init)]]);
        const body = this.chance(0.7)
          ? op(this.pick(['+', '*', '-', 'cat', 'max', 'min', 'merge', 'if', 'and', 'or', '<']),
            [this.varRule(0, inner), op('var', this.pick(['current', 'accumulator', 'current.0', 'accumulator.length']))])
          : this.rule(d, inner);
        const r = this.rand();
        if (r < 0.85) return op('reduce', init === undefined ? [a.rule, body] : [a.rule, body, init]);
        if (r < 0.93) return op('reduce', [a.rule]);
        return op('reduce', [a.rule, body, init === undefined ? 0 : init, this.literal(0)]);
      }
      default: throw new Error('unknown op in generator: ' + name);
    }
  }

  /** One complete case: { line, rule, data }. */
  case() {
    const data = this.topData();
    const r = this.rand();
    let rule;
    if (r < 0.02) rule = this.literal(2); // non-logic rule
    else if (r < 0.03) rule = [this.rule(2, data), this.rule(2, data)]; // array of rules
    else if (r < 0.04) rule = op(this.pick(UNKNOWN_OPS), [this.literal(0)]); // unknown operator
    else rule = this.rule(this.range(1, 4), data);
    const opt = {
      escape: this.chance(0.1),
      spaces: this.chance(0.05),
      dataFirst: this.chance(0.05),
    };
    return caseLine(rule, data, opt);
  }
}

function op(name, args) { return new Obj([[name, args]]); }
/** Can v be written into a rule as a literal with the same meaning (no single-key objects)? */
function literalSafe(v) {
  if (Array.isArray(v)) return v.every(literalSafe);
  if (v instanceof Obj) return v.entries.length !== 1 && v.entries.every(([, x]) => literalSafe(x));
  return v !== undefined;
}
function sampleOf(v, g) {
  if (Array.isArray(v) && v.length) return toPlainSample(g.pick(v));
  return undefined;
}
/** Sample values for scopes: rules inside literal arrays are not data; keep plain values only. */
function toPlainSample(v) {
  if (v instanceof Raw) return Number(v.text);
  if (v instanceof Obj && v.entries.length === 1) return undefined;
  return v;
}

const ALL_OPS = ['var', 'var', 'var', 'missing', 'missing_some', 'if', '?:', '==', '===', '!=', '!==', '!', '!!',
  'or', 'and', '<', '<=', '>', '>=', 'max', 'min', '+', '-', '*', '/', '%', 'map', 'filter', 'reduce',
  'all', 'none', 'some', 'merge', 'in', 'cat', 'substr'];
const NUMERIC_OPS = ['+', '-', '*', '/', '%', 'max', 'min', 'var', 'if', 'reduce', 'substr', 'cat'];
const PREDICATE_OPS = ['==', '===', '!=', '!==', '<', '<=', '>', '>=', '!', '!!', 'in', 'and', 'or', 'var',
  'missing', '%', 'if', 'some'];
const UNKNOWN_OPS = ['foo', 'Var', 'a.b', '+.length', '', '.var', 'var.x', 'MAX', 'concat', 'length'];

// ---------------------------------------------------------------------------------------------
// Running pz and comparing
// ---------------------------------------------------------------------------------------------

function requirePz() {
  if (!fs.existsSync(PZ_BIN)) {
    assert.fail(`pz binary not found at ${PZ_BIN}: build it first (build/pz) or set PZ_BIN`);
  }
}

function runPz(lines) {
  const input = lines.join('\n') + '\n';
  const res = spawnSync(PZ_BIN, ['eval'], { input, maxBuffer: 1 << 30, timeout: 120000 });
  if (res.error) throw res.error;
  const out = new TextDecoder('utf-8').decode(res.stdout);
  const got = out.split('\n');
  if (got.length && got[got.length - 1] === '') got.pop();
  return { got, status: res.status, signal: res.signal, stderr: String(res.stderr || '').slice(0, 2000) };
}

let failuresFileReset = false;
function recordFailures(suite, items) {
  fs.mkdirSync(path.dirname(FAILURES_FILE), { recursive: true });
  if (!failuresFileReset) {
    fs.rmSync(FAILURES_FILE, { force: true });
    failuresFileReset = true;
  }
  if (items.length) fs.appendFileSync(FAILURES_FILE, items.map((x) => JSON.stringify({ suite, ...x })).join('\n') + '\n');
}

/** Compare pz against the oracle for these input lines; returns the list of mismatches. */
function compareWithPz(lines, expected, names = null) {
  const { got, status, signal, stderr } = runPz(lines);
  const mismatches = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lineMatches(expected[i], got[i])) {
      mismatches.push({
        index: i,
        ...(names ? { name: names[i] } : {}),
        input: lines[i],
        expected: expected[i].line ?? `{"error":...} (json-logic-js threw: ${expected[i].error})`,
        got: got[i] === undefined ? '<no output line>' : got[i],
      });
    }
  }
  const extra = got.length > lines.length ? got.length - lines.length : 0;
  return { mismatches, status, signal, stderr, extra, gotLines: got.length };
}

function report(title, lines, r) {
  const head = `${title}: ${r.mismatches.length} of ${lines.length} lines differ` +
    ` (pz exit ${r.status}${r.signal ? ', signal ' + r.signal : ''}, ${r.gotLines} output lines` +
    `${r.extra ? ', ' + r.extra + ' extra' : ''})` +
    (r.stderr ? `\npz stderr: ${r.stderr}` : '') +
    `\nall mismatches: ${path.relative(process.cwd(), FAILURES_FILE)}\n`;
  const shown = r.mismatches.slice(0, 20).map((m) =>
    `#${m.index}${m.name ? ' [' + m.name + ']' : ''}\n  input:    ${m.input}\n  expected: ${m.expected}\n  got:      ${m.got}`);
  return head + shown.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Edge-case table. Each entry: [name, rule, data, want?] or { name, line, want? }.
// `want` is the hand-reasoned JSON text of the result (or ERR); it is checked against the
// oracle, which stays the source of truth for the comparison with pz.
// ---------------------------------------------------------------------------------------------

const ERR = Symbol('error');
const U = { and: [] }; // evaluates to undefined
const NAN = { '/': [0, 0] };
const EDGE = [
  // --- loose equality
  ['[] == false', { '==': [[], false] }, null, 'true'],
  ['[0] == false', { '==': [[0], false] }, null, 'true'],
  ['"" == 0', { '==': ['', 0] }, null, 'true'],
  ['null == 0', { '==': [null, 0] }, null, 'false'],
  ['null == undefined', { '==': [null] }, null, 'true'],
  ['"1" == 1', { '==': ['1', 1] }, null, 'true'],
  ['[1,2] == "1,2"', { '==': [[1, 2], '1,2'] }, null, 'true'],
  ['"1" === 1', { '===': ['1', 1] }, null, 'false'],
  ['null != false', { '!=': [null, false] }, null, 'true'],
  ['null !== null', { '!==': [null, null] }],
  ['[1] == [1] (two objects)', { '==': [[1], [1]] }, null, 'false'],
  ['same array reference ==', { '==': [{ var: 'a' }, { var: 'a' }] }, { a: [1] }, 'true'],
  ['same array reference ===', { '===': [{ var: 'a' }, { var: 'a' }] }, { a: [1] }],
  ['equal arrays, different references', { '==': [{ var: 'a' }, { var: 'b' }] }, { a: [1], b: [1] }],
  ['object == "[object Object]"', { '==': [{ a: 1, b: 2 }, '[object Object]'] }, null, 'true'],
  ['[null] == ""', { '==': [[null], ''] }, null],
  ['[[]] == 0', { '==': [[[]], 0] }, null, 'true'],
  ['true == "1"', { '==': [true, '1'] }, null],
  ['true == "true"', { '==': [true, 'true'] }, null, 'false'],
  ['NaN == NaN', { '==': [NAN, NAN] }, null, 'false'],
  ['0 == -0', { '==': [0, -0] }, null],
  ['0 === -0', { '===': [0, -0] }, null, 'true'],
  ['" \\n" == 0', { '==': [' \n', 0] }, null],
  ['"0x10" == 16', { '==': ['0x10', 16] }, null, 'true'],
  ['null == ""', { '==': [null, ''] }, null],
  ['undefined == null', { '==': [U, null] }, null],
  ['undefined === null', { '===': [U, null] }, null],
  ['=== with no args', { '===': [] }, null, 'true'],
  ['"1e3" == 1000', { '==': ['1e3', 1000] }, null],
  ['1 == [1]', { '==': [1, [1]] }, null],
  ['"a" == ["a"]', { '==': ['a', ['a']] }, null],
  ['== with 3 args', { '==': [1, 1, 2] }, null],
  ['!= unary sugar', { '!=': 0 }, null],
  // --- relational
  ['"10" < "9" (string compare)', { '<': ['10', '9'] }, null, 'true'],
  ['"10" < 9', { '<': ['10', 9] }, null, 'false'],
  ['1 < 2 < 3', { '<': [1, 2, 3] }, null, 'true'],
  ['1 < 3 < 2', { '<': [1, 3, 2] }, null, 'false'],
  ['<= three equal', { '<=': [1, 1, 1] }, null],
  ['null < 1', { '<': [null, 1] }, null, 'true'],
  ['undefined < 1', { '<': [U, 1] }, null],
  ['< with undefined third arg is the 2-arg form', { '<': [1, 2, U] }, null],
  ['"a" > "B"', { '>': ['a', 'B'] }, null],
  ['UTF-16 order: 😀 < \\uffff', { '<': ['😀', '\uffff'] }, null, 'true'],
  ['UTF-16 order: \\uffff < 😀', { '<': ['\uffff', '😀'] }, null],
  ['UTF-16 order: ｚ vs 😀', { '>': ['ｚ', '😀'] }, null],
  ['[2] < [10]', { '<': [[2], [10]] }, null, 'false'],
  ['[2] < 10', { '<': [[2], 10] }, null],
  ['null >= 0', { '>=': [null, 0] }, null, 'true'],
  ['null > 0', { '>': [null, 0] }, null],
  ['"a" < 1', { '<': ['a', 1] }, null],
  ['"a" >= 1', { '>=': ['a', 1] }, null],
  ['NaN <= 1', { '<=': [NAN, 1] }, null],
  ['true > false', { '>': [true, false] }, null],
  ['"" < 1', { '<': ['', 1] }, null],
  ['[1,2] < "1,3"', { '<': [[1, 2], '1,3'] }, null],
  ['{} < {}', { '<': [{}, {}] }, null],
  ['> with one arg', { '>': [1] }, null],
  ['<= 3 args with strings', { '<=': ['1', 2, '3'] }, null],
  ['< 3 args, middle NaN', { '<': [1, NAN, 3] }, null],
  // --- arithmetic
  ['"1" + "2"', { '+': ['1', '2'] }, null, '3'],
  ['+ unary sugar "3"', { '+': '3' }, null, '3'],
  ['+ no args', { '+': [] }, null, '0'],
  ['* one string arg', { '*': ['3'] }, null, '"3"'],
  ['* no args', { '*': [] }, null, ERR],
  ['* one array arg', { '*': [[1, 2]] }, null],
  ['* ([2], "3")', { '*': [[2], '3'] }, null, '6'],
  ['- [[]] (negative zero)', { '-': [[]] }, null, '0'],
  ['- "0x10"', { '-': ['0x10'] }, null, '-16'],
  ['+ "0x10" (parseFloat)', { '+': ['0x10'] }, null, '0'],
  ['"3px" - 1', { '-': ['3px', 1] }, null, 'null'],
  ['"3px" + 1', { '+': ['3px', 1] }, null, '4'],
  ['1 / 0', { '/': [1, 0] }, null, 'null'],
  ['-1 / 0 < 0', { '<': [{ '/': [-1, 0] }, 0] }, null],
  ['-5 % 3', { '%': [-5, 3] }, null, '-2'],
  ['5 % -3', { '%': [5, -3] }, null],
  ['5.5 % 2', { '%': [5.5, 2] }, null],
  ['1 % 0', { '%': [1, 0] }, null],
  ['-1 % 1 (negative zero)', { '%': [-1, 1] }, null],
  ['max of nothing', { max: [] }, null, 'null'],
  ['min of nothing', { min: [] }, null],
  ['max coerces', { max: ['3', [4], null] }, null, '4'],
  ['max of [1,2]', { max: [[1, 2]] }, null],
  ['min(-0, 0)', { min: [-0, 0] }, null],
  ['1 / min(0, -0)', { '<': [{ '/': [1, { min: [0, -0] }] }, 0] }, null, 'true'],
  ['1 / max(-0, 0)', { '<': [{ '/': [1, { max: [-0, 0] }] }, 0] }, null],
  ['1 / -(0)', { '<': [{ '/': [1, { '-': [0] }] }, 0] }, null, 'true'],
  ['1 / literal -0', { '/': [1, -0] }, null],
  ['1 / (0 * -1)', { '<': [{ '/': [1, { '*': [0, -1] }] }, 0] }, null],
  ['0.1 + 0.2', { '+': [0.1, 0.2] }, null, '0.30000000000000004'],
  ['1e21 * 1', { '*': [1e21, 1] }, null, '1e+21'],
  ['1e20 * 10', { '*': [1e20, 10] }, null],
  ['1 / 1e7', { '/': [1, 1e7] }, null, '1e-7'],
  ['1 / 1e6', { '/': [1, 1e6] }, null, '0.000001'],
  ['123456789012345680000', { '+': [123456789012345680000] }, null, '123456789012345680000'],
  ['1e300 * 1e300', { '*': [1e300, 1e300] }, null],
  ['5 - undefined', { '-': [5, U] }, null, '-5'],
  ['true + 1 (parseFloat)', { '+': [true, 1] }, null],
  ['true - 1', { '-': [true, 1] }, null],
  ['" 2 " + "1e3"', { '+': [' 2 ', '1e3'] }, null, '1002'],
  ['" 2 " - "1e3"', { '-': [' 2 ', '1e3'] }, null, '-998'],
  ['"" - 1', { '-': ['', 1] }, null],
  ['"" + 1', { '+': ['', 1] }, null],
  ['"Infinity" - 1 > 1', { '>': [{ '-': ['Infinity', 1] }, 1] }, null],
  ['"Infinityx" + 0 > 1', { '>': [{ '+': ['Infinityx', 0] }, 1] }, null],
  ['".5" + 0', { '+': ['.5'] }, null],
  ['- "0b11"', { '-': ['0b11'] }, null],
  ['- "\\u00a05" (NBSP)', { '-': ['\u00a05'] }, null],
  ['- "\\ufeff5" (BOM)', { '-': ['\ufeff5'] }, null],
  ['+ "\\u20035" (em space)', { '+': ['\u20035'] }, null],
  ['9007199254740993', { '+': [9007199254740993] }, null],
  ['5e-324 * 0.5', { '*': [5e-324, 0.5] }, null],
  ['2 / 3', { '/': [2, 3] }, null],
  ['100 * 1.1', { '*': [100, 1.1] }, null],
  ['- 0', { '-': [0] }, null],
  ['- three args', { '-': [10, 3, 2] }, null],
  ['% sugar', { '%': 5 }, null],
  ['/ sugar', { '/': 5 }, null],
  ['"1e1000" * 1 > 0', { '>': [{ '*': ['1e1000', 1] }, 0] }, null],
  ['1/3 formatting', { '/': [1, 3] }, null],
  ['large integer 2^53', { '*': [4294967296, 2097152] }, null],
  ['-1e-7', { '-': [1e-7] }, null],
  ['1.5e-10 * 1', { '*': [1.5e-10, 1] }, null],
  ['2^70', { '*': [1180591620717411303424, 1] }, null],
  // --- truthiness
  ['!! "0"', { '!!': ['0'] }, null, 'true'],
  ['!! []', { '!!': [[]] }, null, 'false'],
  ['!! [[]]', { '!!': [[[]]] }, null, 'true'],
  ['!! {}', { '!!': [{}] }, null, 'true'],
  ['!! NaN', { '!!': [NAN] }, null, 'false'],
  ['! true (sugar)', { '!': true }, null, 'false'],
  ['! no args', { '!': [] }, null, 'true'],
  ['!! ""', { '!!': [''] }, null],
  ['!! " " sugar', { '!!': ' ' }, null],
  ['!! -0', { '!!': [-0] }, null],
  ['if [] falsy', { if: [[], 'yes', 'no'] }, null, '"no"'],
  ['if [0] truthy', { if: [[0], 'yes', 'no'] }, null, '"yes"'],
  ['and of nothing (undefined)', { and: [] }, null, 'null'],
  ['or of nothing', { or: [] }, null],
  ['and returns first falsy', { and: [1, '', 2] }, null, '""'],
  ['or returns first truthy', { or: [0, [], 'x'] }, null, '"x"'],
  ['or returns last', { or: [0, []] }, null, '[]'],
  ['if no args', { if: [] }, null, 'null'],
  ['if false without else', { if: [false, 1] }, null],
  ['if even args, no match', { if: [false, 1, false, 2] }, null, 'null'],
  ['?: ternary', { '?:': [true, 1, 2] }, null],
  ['if sugar', { if: 'x' }, null, '"x"'],
  ['if else-if chain', { if: [false, 1, true, 2, 3] }, null, '2'],
  ['if is lazy', { if: [true, 1, { foo: [] }] }, null, '1'],
  ['and is lazy', { and: [false, { foo: [] }] }, null],
  ['or is lazy', { or: [true, { foo: [] }] }, null],
  // --- strings
  ['cat of mixed', { cat: [null, 1, [1, [2, null]], {}] }, null, '"11,2,[object Object]"'],
  ['cat of nothing', { cat: [] }, null],
  ['cat undefined/true/1e21/0.1', { cat: [U, true, 1e21, 0.1] }, null],
  ['cat -0', { cat: [-0] }, null],
  ['cat sugar', { cat: 'x' }, null],
  ['cat 1e-7 and 123456789012345680000', { cat: [1e-7, '|', 123456789012345680000] }, null],
  ['substr negative start', { substr: ['jsonlogic', -5] }, null, '"logic"'],
  ['substr negative end', { substr: ['jsonlogic', 1, -1] }, null, '"sonlogi"'],
  ['substr start only', { substr: ['jsonlogic', 4] }, null],
  ['substr start, length', { substr: ['jsonlogic', 0, 1] }, null],
  ['substr splits a surrogate pair (tail)', { substr: ['😀abc', 1] }, null, '"\\ude00abc"'],
  ['substr splits a surrogate pair (head)', { substr: ['😀abc', 0, 1] }, null, '"\\ud83d"'],
  ['substr of a number', { substr: [12345, 1, 2] }, null],
  ['substr string end "-1" (number + string)', { substr: ['abcdef', '2', '-1'] }, null, '""'],
  ['substr null start', { substr: ['abc', null] }, null],
  ['substr fractional start', { substr: ['abc', 1.7] }, null],
  ['substr of null', { substr: [null] }, null, '"null"'],
  ['substr start far negative', { substr: ['abc', -10, 2] }, null],
  ['substr undefined end', { substr: ['abc', 1, U] }, null],
  ['substr of array', { substr: [[1, 2], 1] }, null],
  ['substr of object', { substr: [{}, 1, 6] }, null],
  ['substr end -0', { substr: ['abc', 0, -0] }, null],
  ['substr huge end', { substr: ['abc', 1, 1e21] }, null],
  ['substr NaN start', { substr: ['abc', 'x'] }, null],
  ['in: number in string', { in: [1, 'a1'] }, null, 'true'],
  ['in: nested array not searched', { in: ['a', [['a']]] }, null, 'false'],
  ['in: string in array', { in: ['a', ['a']] }, null],
  ['in: strict element compare', { in: [1, ['1']] }, null, 'false'],
  ['in: empty in empty', { in: ['', ''] }, null],
  ['in: null haystack', { in: ['a', null] }, null],
  ['in: object haystack', { in: ['a', { a: 1, b: 2 }] }, null],
  ['in: null in "null"', { in: [null, 'null'] }, null, 'true'],
  ['in: [1] in [[1]]', { in: [[1], [[1]]] }, null],
  ['in: emoji', { in: ['😀', 'a😀'] }, null],
  ['in: same reference', { in: [{ var: 'x.0' }, { var: 'x' }] }, { x: [[1]] }, 'true'],
  ['in: NaN not found', { in: [NAN, [NAN]] }, null],
  ['in: undefined in [undefined]', { in: [U, [U]] }, null],
  ['in: number haystack', { in: [1, 1] }, null],
  // --- var
  ['var a.length on array', { var: 'a.length' }, { a: [1, 2, 3] }, '3'],
  ['var a.length on string (UTF-16)', { var: 'a.length' }, { a: '😀ab' }, '4'],
  ['var a.1 on array', { var: 'a.1' }, { a: [10, 20] }, '20'],
  ['var a.01 on array', { var: 'a.01' }, { a: [10, 20] }, 'null'],
  ['var a.1 on string', { var: 'a.1' }, { a: 'xyz' }],
  ['var a.0 on emoji string', { var: 'a.0' }, { a: '😀' }, '"\\ud83d"'],
  ['var through null with default', { var: ['a.b.c', 'dflt'] }, { a: { b: null } }, '"dflt"'],
  ['var ending at null ignores default', { var: ['a.b', 'dflt'] }, { a: { b: null } }, 'null'],
  ['var null value ignores default', { var: ['x', 'd'] }, { x: null }],
  ['var "" key order', { var: '' }, new Obj([['b', 1], ['a', 2], ['1', 3], ['0', 4]]), '{"0":4,"1":3,"b":1,"a":2}'],
  ['var null returns data', { var: null }, 5],
  ['var [] returns data', { var: [] }, 's'],
  ['var numeric path', { var: 1 }, { 1: 'one' }],
  ['var numeric path on array', { var: 1 }, ['a', 'b'], '"b"'],
  ['var 1.5 path', { var: 1.5 }, { 1: { 5: 'x' } }],
  ['var -0 path', { var: -0 }, ['a']],
  ['var [[]] path is ""', { var: [[]] }, { '': 'empty' }],
  ['var a..b', { var: 'a..b' }, { a: { '': { b: 1 } } }],
  ['var a.', { var: 'a.' }, { a: { '': 7 } }],
  ['var on null data', { var: 'x' }, null],
  ['var default on null data', { var: ['x', 1] }, null],
  ['var "0" on string data', { var: '0' }, 'abc'],
  ['var length on array data', { var: 'length' }, [1, 2]],
  ['var a.-1', { var: 'a.-1' }, { a: [1, 2] }],
  ['var out of range', { var: ['a.2', 'd'] }, { a: [1, 2] }],
  ['var -0 value prints 0', { var: 'a' }, { a: -0 }],
  ['var dotted key unreachable', { var: 'a.b' }, { 'a.b': 1 }],
  ['var non-ASCII keys', { var: 'é.😀' }, { é: { '😀': 'ok' } }, '"ok"'],
  ['var computed path', { var: { cat: ['a', '.', 'b'] } }, { a: { b: 5 } }, '5'],
  ['var computed default', { var: ['a', { var: 'b' }] }, { b: 'fallback' }],
  ['var own "length" key on object', { var: 'a.length' }, { a: { length: 5, x: 1 } }],
  ['var true path', { var: true }, { true: 1 }],
  ['var integer-like key order', { var: 'o' }, new Obj([['o', new Obj([['b', 1], ['a', 2], ['10', 3], ['2', 4], ['-1', 5], ['01', 6], ['4294967295', 7], ['4294967294', 8]])]])],
  ['var string index past end', { var: ['s.5', 'd'] }, { s: 'abc' }],
  ['var number has no .0', { var: ['n.0', 'd'] }, { n: 5 }],
  ['var three args', { var: ['x', 1, 2] }, {}],
  // --- missing
  ['missing one of two', { missing: ['a', 'b'] }, { a: 1 }, '["b"]'],
  ['missing: "" and null count as missing', { missing: ['a', 'b'] }, { a: '', b: null }, '["a","b"]'],
  ['missing sugar', { missing: 'a' }, {}],
  ['missing: first arg array wins', { missing: [['a', 'b'], 'c'] }, {}, '["a","b"]'],
  ['missing of merge', { missing: { merge: [['a'], ['b']] } }, { b: 0 }, '["a"]'],
  ['missing nothing', { missing: [] }, {}],
  ['missing: false is present', { missing: ['a.b'] }, { a: { b: false } }],
  ['missing numeric key', { missing: [1] }, ['x'], '[1]'],
  ['missing: array key acts as [path, default]', { missing: [[['a', 'dflt']]] }, {}, '[]'],
  ['missing undefined key, null data', { missing: [U] }, null, '[null]'],
  ['missing_some satisfied', { missing_some: [1, ['a', 'b']] }, { a: 1 }, '[]'],
  ['missing_some not satisfied', { missing_some: [2, ['a', 'b']] }, { a: 1 }, '["b"]'],
  ['missing_some null options', { missing_some: [1, null] }, {}, ERR],
  ['missing_some one arg', { missing_some: [1] }, {}, ERR],
  ['missing_some nothing needed', { missing_some: [0, []] }, {}],
  ['missing_some string count', { missing_some: ['1', ['a']] }, {}],
  ['missing_some string options', { missing_some: [1, 'ab'] }, {}],
  ['missing_some with first option an array', { missing_some: [1, [['a', 'b'], 'c']] }, { c: 1 }],
  // --- array operations
  ['reduce without initial', { reduce: [[1, 2, 3], { '+': [{ var: 'current' }, { var: 'accumulator' }] }] }, null, 'null'],
  ['reduce with initial', { reduce: [[1, 2, 3], { '+': [{ var: 'current' }, { var: 'accumulator' }] }, 0] }, null, '6'],
  ['reduce over non-array', { reduce: ['abc', { var: 'current' }, 5] }, null, '5'],
  ['reduce over [] without initial', { reduce: [[], { var: 'current' }] }, null],
  ['reduce cat', { reduce: [[1, 2], { cat: [{ var: 'accumulator' }, { var: 'current' }] }, ''] }, null, '"12"'],
  ['reduce accumulator path', { reduce: [[1, 2], { var: 'accumulator.x' }, { x: 1, y: 2 }] }, null],
  ['reduce sees only current/accumulator', { reduce: [[1], { var: ['x', 'no'] }, 0] }, { x: 'outer' }],
  ['all of []', { all: [[], { var: '' }] }, null, 'false'],
  ['none of []', { none: [[], { var: '' }] }, null, 'true'],
  ['some of []', { some: [[], { var: '' }] }, null],
  ['all with a falsy', { all: [[1, 0], { var: '' }] }, null],
  ['all of [[]]', { all: [[[]], { var: '' }] }, null, 'false'],
  ['some of falsies', { some: [[[], 0, ''], { var: '' }] }, null],
  ['none of a string', { none: ['abc', { var: '' }] }, null],
  ['all of data array', { all: [{ var: 'a' }, { '>': [{ var: '' }, 0] }] }, { a: [1, 2] }, 'true'],
  ['map', { map: [[1, 2], { '*': [{ var: '' }, 2] }] }, null, '[2,4]'],
  ['map without logic', { map: [[1, 2]] }, null, '[null,null]'],
  ['map over records', { map: [{ var: 'x' }, { var: 'a' }] }, { x: [{ a: 1 }, { b: 2 }] }, '[1,null]'],
  ['map over a string', { map: ['ab', { var: '' }] }, null, '[]'],
  ['map to undefined', { map: [[1], U] }, null],
  ['filter truthiness', { filter: [[0, 1, '', [], [0], '0'], { var: '' }] }, null, '[1,[0],"0"]'],
  ['filter over object', { filter: [{ a: 1, b: 2 }, { var: '' }] }, null],
  ['merge nothing', { merge: [] }, null, '[]'],
  ['merge flattens one level', { merge: [1, [2, [3]], null] }, null, '[1,2,[3],null]'],
  ['merge undefined', { merge: [U] }, null],
  ['merge sugar', { merge: 'a' }, null],
  ['merge objects', { merge: [{ b: 1, a: 2 }, [{}]] }, null],
  // --- non-logic rules, unknown operators
  ['multi-key object is returned as is', { if: [true, { a: { var: 'x' }, b: 1 }] }, { x: 1 }],
  ['rule is an array', [1, { var: 'a' }], { a: 2 }, '[1,2]'],
  ['rule is a string', 'literal', null, '"literal"'],
  ['rule is null', null, null, 'null'],
  ['rule is {}', {}, null, '{}'],
  ['rule is a multi-key object', { b: { var: 'x' }, a: 1 }, null],
  ['unknown operator', { foo: [1] }, null, ERR],
  ['dotted unknown operator', { 'a.b': [] }, null, ERR],
  ['empty operator', { '': 1 }, null, ERR],
  ['+.length operator', { '+.length': [] }, null, ERR],
  ['case-sensitive operator', { Var: 'a' }, { a: 1 }, ERR],
  ['eager args throw', { '==': [1, { foo: [] }] }, null, ERR],
  ['unknown op inside array rule', [{ foo: 1 }], null, ERR],
  ['unknown op in map body on empty array', { map: [[], { foo: 1 }] }, null, '[]'],
  // --- number printing of data values
  ['print 1e21', { var: 'n' }, { n: 1e21 }, '1e+21'],
  ['print 1e-7', { var: 'n' }, { n: 1e-7 }, '1e-7'],
  ['print 123456789012345680000', { var: 'n' }, { n: 123456789012345680000 }],
  ['print 0.1', { var: 'n' }, { n: 0.1 }],
  ['print 1.0', { var: 'n' }, new Obj([['n', new Raw('1.0')]]), '1'],
  ['print 1E2', { var: 'n' }, new Obj([['n', new Raw('1E2')]])],
  ['print -0.0', { var: 'n' }, new Obj([['n', new Raw('-0.0')]])],
  ['print 5e-324', { var: 'n' }, { n: 5e-324 }],
  ['print max double', { var: 'n' }, { n: 1.7976931348623157e308 }],
  ['print 0.000001', { var: 'n' }, { n: 0.000001 }],
  ['print 1e-7 text "0.0000001"', { var: 'n' }, new Obj([['n', new Raw('0.0000001')]])],
  ['print 2^53+1 text', { var: 'n' }, new Obj([['n', new Raw('9007199254740993')]])],
  ['print 100e-2', { var: 'n' }, new Obj([['n', new Raw('100e-2')]])],
  ['print strings needing escapes', { var: 's' }, { s: 'q"b\\n\n\t\u0001\u007f\u2028é😀/' }],
  // --- input text (JSON.parse semantics of the input line)
  { name: 'input: escaped non-ASCII key', line: '{"rule":{"var":"\\u00e9"},"data":{"é":1}}', want: '1' },
  { name: 'input: lone surrogate escape', line: '{"rule":{"cat":["\\ud83d","x"]},"data":null}', want: '"\\ud83dx"' },
  { name: 'input: surrogate pair escape', line: '{"rule":{"var":"s.length"},"data":{"s":"\\ud83d\\ude00"}}', want: '2' },
  { name: 'input: data before rule, whitespace', line: '{ "data" : { "a" : [ 1 , 2 ] } , "rule" : { "var" : "a.1" } }', want: '2' },
  { name: 'input: duplicate data keys (last value, first position)', line: '{"rule":{"var":""},"data":{"a":1,"b":2,"a":3}}', want: '{"a":3,"b":2}' },
  { name: 'input: duplicate operator key is one key', line: '{"rule":{"var":"a","var":"b"},"data":{"a":1,"b":2}}', want: '2' },
  { name: 'input: 1e400 parses to Infinity', line: '{"rule":{">":[{"var":"n"},1e308]},"data":{"n":1e400}}', want: 'true' },
  { name: 'input: -0 literal in rule', line: '{"rule":{"<":[{"/":[1,-0]},0]},"data":null}', want: 'true' },
  { name: 'input: malformed (truncated)', line: '{"rule":{"var":"a"}', want: ERR },
  { name: 'input: malformed (not JSON)', line: 'not json', want: ERR },
];

function edgeCases() {
  return EDGE.map((e) => {
    if (!Array.isArray(e)) return { name: e.name, line: e.line, want: e.want };
    const [name, rule, data, want] = e;
    return { name, line: caseLine(toModel(rule), toModel(data === undefined ? null : data)), want };
  });
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

test('edge table: json-logic-js agrees with the hand-reasoned expectations', () => {
  const cases = edgeCases();
  const reasoned = cases.filter((c) => c.want !== undefined);
  assert.ok(cases.length >= 150, `edge table has ${cases.length} cases`);
  assert.ok(reasoned.length >= 40, `only ${reasoned.length} hand-reasoned expectations`);
  const bad = [];
  for (const c of reasoned) {
    const exp = oracleLine(c.line);
    const ok = c.want === ERR ? exp.line === null : exp.line === `{"result":${c.want}}`;
    if (!ok) bad.push(`${c.name}: want ${c.want === ERR ? 'error' : c.want}, json-logic-js gives ${exp.line ?? 'error: ' + exp.error}`);
  }
  assert.deepEqual(bad, []);
  // The edge table must not contain deliberate differences either.
  const checker = makeChecker();
  const flagged = cases.filter((c) => {
    try { return checker.check(c.line); } catch { return false; } // malformed lines
  }).map((c) => c.name);
  assert.deepEqual(flagged, []);
});

test('edge table: pz eval matches json-logic-js', () => {
  requirePz();
  const cases = edgeCases();
  const lines = cases.map((c) => c.line);
  const expected = lines.map(oracleLine);
  const r = compareWithPz(lines, expected, cases.map((c) => c.name));
  recordFailures('edge', r.mismatches);
  assert.ok(r.mismatches.length === 0 && r.extra === 0, report('edge table', lines, r));
});

test(`random differential: ${N_CASES} cases, seed ${SEED}`, (t) => {
  const t0 = Date.now();
  console.log(`jsonlogic diff: seed=${SEED} (PZ_DIFF_SEED), cases=${N_CASES} (PZ_DIFF_CASES), pz=${PZ_BIN}`);
  t.diagnostic(`seed=${SEED} cases=${N_CASES}`);
  const gen = new Gen(SEED);
  const checker = makeChecker();
  const lines = [];
  const expected = [];
  const rejected = {};
  let errors = 0;
  while (lines.length < N_CASES) {
    const line = gen.case();
    if (line.length > MAX_LINE) { rejected['too-long'] = (rejected['too-long'] || 0) + 1; continue; }
    const why = checker.check(line);
    if (why) {
      const k = why.startsWith('prototype-chain') ? 'prototype-chain' : why;
      rejected[k] = (rejected[k] || 0) + 1;
      continue;
    }
    const exp = oracleLine(line);
    if (exp.line === null) errors++;
    else if (exp.line.length > 4 * MAX_LINE) { rejected['result-too-long'] = (rejected['result-too-long'] || 0) + 1; continue; }
    lines.push(line);
    expected.push(exp);
  }
  const tGen = Date.now() - t0;
  t.diagnostic(`generated in ${tGen} ms; ${errors} cases expect an error; rejected ${JSON.stringify(rejected)}`);
  requirePz();
  const r = compareWithPz(lines, expected);
  recordFailures('random', r.mismatches.map((m) => ({ seed: SEED, ...m })));
  t.diagnostic(`pz compared in ${Date.now() - t0 - tGen} ms`);
  assert.ok(r.mismatches.length === 0 && r.extra === 0,
    report(`random differential (seed ${SEED}; rerun with PZ_DIFF_SEED=${SEED})`, lines, r));
});
