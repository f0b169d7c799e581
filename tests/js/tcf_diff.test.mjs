// Differential test: the native `pz tcf` TC string decoder (core/src/tcf.cpp) against the
// reference implementation @iabtcf/core 1.5.6 (the oracle, run in-process).
//
//   node --test tests/js/tcf_diff.test.mjs
//
// Environment:
//   PZ_BIN            path of the CLI (default: <repo>/build/pz)
//   PZ_TCF_SEED       PRNG seed (default below; printed on every run)
//   PZ_TCF_CASES      number of random TCModels to encode (default 600)
//   PZ_TCF_MUTATIONS  number of mutated strings for the robustness part (default 3000)
//
// CLI contract expected from `pz tcf`:
//   * `pz tcf STRING`: STRING is the next argument taken verbatim (it may start with '-'; no option
//     parsing after `tcf`). Prints tcf_to_json(decode_tcf(STRING)) + "\n" and exits 0, or prints
//     {"error":"<message>"} + "\n" (the message as a JSON string) and exits 1.
//   * Optional batch form `pz tcf -`: reads stdin, one TC string per line ("\n"-separated, a final
//     "\r" is not stripped), and prints one output line per input line (the same JSON or error
//     line as above), then exits 0. The test probes for it and falls back to one process per
//     string when it is absent ("-" alone is not a valid TC string, so without batch support it
//     yields a single error line).
//
// Generation: @iabtcf/core's TCString.encode needs a loaded GVL (SemanticPreEncoder), so the test
// bypasses it and calls SegmentEncoder.encode(tcModel, segment) for each segment, joined with '.',
// which encodes the TCModel fields exactly as set. Publisher restrictions read
// `publisherRestrictions.gvl.vendorIds` while encoding (ranges only bridge ids that are not in the
// GVL), so they get a stand-in GVL object { vendorIds: Set } whose ids are random (without a
// `vendors` map, isOkToHave() accepts every restriction).
//
// Oracle: every generated string is decoded by @iabtcf/core's TCString.decode, turned into the JSON
// that `pz tcf` prints (same keys, same order) and compared byte for byte. Deliberate differences
// (never generated; tolerated on mutated strings):
//   * cmpId 0 or 1: @iabtcf/core's TCModel.cmpId setter throws, pz decodes the value.
//   * a publisher restriction with NumEntries 0: @iabtcf/core drops it, pz keeps it with no vendors.
//   * pz is stricter (errors where @iabtcf/core decodes something): version != 2, letters > 25,
//     range end < start, vendor id 0 or above MaxVendorId, restriction type 3 / purpose 0, core not
//     first, duplicate or unknown segments, '=' misuse. So on mutated strings only "pz decodes =>
//     @iabtcf/core decodes the same" is checked, plus "pz never crashes and prints one well-formed
//     line".
//
// Mismatches go to build/tcf-diff-failures.jsonl (one JSON object per line).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PZ_BIN, ROOT, envInt, envSeed, mulberry32 } from './harness.mjs';
import { PurposeRestriction, Segment, SegmentEncoder, TCModel, TCString } from '@iabtcf/core';

const FAILURES_FILE = path.join(ROOT, 'build', 'tcf-diff-failures.jsonl');
const DEFAULT_SEED = 0x7cf22;
const SEED = envSeed('PZ_TCF_SEED', DEFAULT_SEED);
const N_CASES = envInt('PZ_TCF_CASES', 600);
const N_MUTATIONS = envInt('PZ_TCF_MUTATIONS', 3000);

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const REQUIRED_KEYS = ['version', 'cmpId', 'cmpVersion', 'consentScreen', 'consentLanguage',
  'vendorListVersion', 'policyVersion', 'isServiceSpecific', 'purposeConsents',
  'purposeLegitimateInterests', 'specialFeatureOptins', 'vendorConsents',
  'vendorLegitimateInterests'];
const EXTRA_KEYS = ['created', 'lastUpdated', 'useNonStandardTexts', 'purposeOneTreatment',
  'publisherCC', 'publisherRestrictions', 'disclosedVendors', 'allowedVendors', 'publisherTC'];
const ALL_KEYS = [...REQUIRED_KEYS, ...EXTRA_KEYS];
const ERROR_LINE = /^\{"error":"tcf: (?:[^"\\\u0000-\u001f]|\\.)*"\}$/;

// ---------------------------------------------------------------------------------------------
// PRNG and generators
// ---------------------------------------------------------------------------------------------


class Rng {
  constructor(seed) { this.rand = mulberry32(seed); }
  int(n) { return Math.floor(this.rand() * n); }
  chance(p) { return this.rand() < p; }
  pick(a) { return a[this.int(a.length)]; }
  range(lo, hi) { return lo + this.int(hi - lo + 1); }
  subset(lo, hi, p) {
    const out = [];
    for (let i = lo; i <= hi; i++) if (this.chance(p)) out.push(i);
    return out;
  }
  shuffle(a) {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

/** Runs of consecutive ids plus singles, all in [1, hi]. */
function runsAndSingles(rng, hi, runs, maxRun, singles) {
  const ids = new Set();
  for (let r = 0; r < runs; r++) {
    const a = rng.range(1, hi);
    const b = Math.min(hi, a + rng.int(maxRun));
    for (let i = a; i <= b; i++) ids.add(i);
  }
  for (let s = 0; s < singles; s++) ids.add(rng.range(1, hi));
  return [...ids];
}

/** A vendor id set in one of several shapes (bitfield-friendly and range-friendly). */
function vendorSet(rng) {
  switch (rng.int(8)) {
    case 0: return [];
    case 1: return rng.subset(1, rng.range(1, 120), 0.5); // small dense: bitfield
    case 2: return rng.subset(1, rng.range(100, 1500), 0.05 + 0.9 * rng.rand()); // mid dense
    case 3: { // large sparse: range encoding
      const ids = new Set();
      const n = rng.range(1, 40);
      for (let i = 0; i < n; i++) ids.add(rng.range(1, 65535));
      return [...ids];
    }
    case 4: return runsAndSingles(rng, rng.pick([3000, 20000, 65535]), rng.range(1, 8), 600, rng.int(10));
    case 5: return rng.pick([[65535], [1], [1, 65535], [1, 2, 3, 65534, 65535]]);
    case 6: return runsAndSingles(rng, 3000, rng.range(0, 30), 40, rng.range(0, 80)); // mixed
    default: { // a long run ending near the top
      const a = rng.range(1, 65000);
      const b = rng.range(a, 65535);
      const ids = [];
      for (let i = a; i <= b; i++) ids.push(i);
      return ids;
    }
  }
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
function letters(rng) {
  const s = LETTERS[rng.int(26)] + LETTERS[rng.int(26)];
  return rng.chance(0.2) ? s.toLowerCase() : s;
}

function randomDate(rng) {
  // Any 36-bit decisecond count; sometimes a millisecond time that the encoder has to round.
  const ds = rng.chance(0.3) ? rng.int(2 ** 36) : rng.range(15e9, 18e9);
  return new Date(ds * 100 + (rng.chance(0.2) ? rng.int(100) : 0));
}

/** One random TCModel and the segments to encode (core first, optional ones shuffled). */
function randomModel(rng) {
  const m = new TCModel();
  m.cmpId = rng.chance(0.1) ? rng.pick([2, 4095]) : rng.range(2, 4095);
  m.cmpVersion = rng.chance(0.1) ? rng.pick([0, 4095]) : rng.range(0, 4095);
  m.consentScreen = rng.range(0, 63);
  m.consentLanguage = letters(rng);
  m.vendorListVersion = rng.range(0, 4095);
  m.policyVersion = rng.pick([2, 4, 5, rng.range(0, 63)]);
  m.isServiceSpecific = rng.chance(0.5);
  m.useNonStandardStacks = rng.chance(0.3);
  m.purposeOneTreatment = rng.chance(0.3);
  m.publisherCountryCode = letters(rng);
  m.created = randomDate(rng);
  m.lastUpdated = rng.chance(0.3) ? m.created : randomDate(rng);
  m.specialFeatureOptins.set(rng.subset(1, 12, rng.rand()));
  m.purposeConsents.set(rng.subset(1, 24, rng.rand()));
  m.purposeLegitimateInterests.set(rng.subset(1, 24, rng.rand()));
  m.vendorConsents.set(vendorSet(rng));
  m.vendorLegitimateInterests.set(vendorSet(rng));

  if (rng.chance(0.5)) {
    // Stand-in GVL: restriction ranges only bridge ids missing from it.
    const gvlIds = new Set(rng.subset(1, 2500, rng.pick([0, 0.02, 0.3, 0.9])));
    const n = rng.range(1, 6);
    for (let i = 0; i < n; i++) {
      const pr = new PurposeRestriction(rng.chance(0.9) ? rng.range(1, 24) : rng.range(25, 63), rng.int(3));
      const vendors = runsAndSingles(rng, 2500, rng.range(0, 5), 300, rng.range(rng.chance(0.2) ? 0 : 1, 40));
      if (vendors.length === 0) vendors.push(rng.range(1, 2500)); // the encoder needs >= 1 vendor
      for (const v of vendors) {
        gvlIds.add(v);
        m.publisherRestrictions.add(v, pr);
      }
    }
    m.publisherRestrictions.gvl = { vendorIds: gvlIds };
  }

  const optional = [];
  if (rng.chance(0.5)) {
    m.vendorsDisclosed.set(vendorSet(rng));
    optional.push(Segment.VENDORS_DISCLOSED);
  }
  if (rng.chance(0.3)) {
    m.vendorsAllowed.set(vendorSet(rng));
    optional.push(Segment.VENDORS_ALLOWED);
  }
  if (rng.chance(0.4)) {
    m.publisherConsents.set(rng.subset(1, 24, rng.rand()));
    m.publisherLegitimateInterests.set(rng.subset(1, 24, rng.rand()));
    const n = rng.chance(0.3) ? 0 : rng.range(1, 63);
    m.numCustomPurposes = n;
    m.publisherCustomConsents.set(rng.subset(1, n, rng.rand()));
    m.publisherCustomLegitimateInterests.set(rng.subset(1, n, rng.rand()));
    optional.push(Segment.PUBLISHER_TC);
  }
  return { model: m, segments: [Segment.CORE, ...rng.shuffle(optional)] };
}

function encode(model, segments) {
  return segments.map((seg) => SegmentEncoder.encode(model, seg)).join('.');
}

// ---------------------------------------------------------------------------------------------
// Oracle: @iabtcf/core's decode, printed the way `pz tcf` prints
// ---------------------------------------------------------------------------------------------

const ids = (vector) => Array.from(vector.values()).sort((a, b) => a - b);

function toRanges(sorted) {
  const out = [];
  for (const id of sorted) {
    const last = out[out.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else out.push([id, id]);
  }
  return out;
}

function restrictions(prVector) {
  const out = [];
  for (const [hash, bst] of prVector.map) {
    const [purposeId, restrictionType] = hash.split('-').map(Number);
    out.push({ purposeId, restrictionType, vendors: toRanges(bst.get()) });
  }
  return out.sort((a, b) => a.purposeId - b.purposeId || a.restrictionType - b.restrictionType);
}

/** The line `pz tcf` should print for `str`, or { error } when @iabtcf/core throws. */
function oracle(str) {
  let m;
  try {
    m = TCString.decode(str);
  } catch (e) {
    return { error: String(e && e.message) };
  }
  const types = str.split('.').slice(1).map((seg) => B64.indexOf(seg[0]) >> 3);
  const o = {
    version: m.version,
    cmpId: m.cmpId,
    cmpVersion: m.cmpVersion,
    consentScreen: m.consentScreen,
    consentLanguage: m.consentLanguage,
    vendorListVersion: m.vendorListVersion,
    policyVersion: m.policyVersion,
    isServiceSpecific: m.isServiceSpecific,
    purposeConsents: ids(m.purposeConsents),
    purposeLegitimateInterests: ids(m.purposeLegitimateInterests),
    specialFeatureOptins: ids(m.specialFeatureOptins),
    vendorConsents: ids(m.vendorConsents),
    vendorLegitimateInterests: ids(m.vendorLegitimateInterests),
    created: m.created.getTime(),
    lastUpdated: m.lastUpdated.getTime(),
    useNonStandardTexts: m.useNonStandardStacks,
    purposeOneTreatment: m.purposeOneTreatment,
    publisherCC: m.publisherCountryCode,
    publisherRestrictions: restrictions(m.publisherRestrictions),
    disclosedVendors: types.includes(1) ? ids(m.vendorsDisclosed) : null,
    allowedVendors: types.includes(2) ? ids(m.vendorsAllowed) : null,
    publisherTC: types.includes(3) ? {
      purposeConsents: ids(m.publisherConsents),
      purposeLegitimateInterests: ids(m.publisherLegitimateInterests),
      numCustomPurposes: m.numCustomPurposes,
      customPurposeConsents: ids(m.publisherCustomConsents),
      customPurposeLegitimateInterests: ids(m.publisherCustomLegitimateInterests),
    } : null,
  };
  return { line: JSON.stringify(o), model: m };
}

// ---------------------------------------------------------------------------------------------
// Running pz
// ---------------------------------------------------------------------------------------------

let batchSupported = null;

function probeBatch() {
  if (batchSupported !== null) return batchSupported;
  const res = spawnSync(PZ_BIN, ['tcf', '-'], { input: 'A\nB\n', timeout: 60000 });
  if (res.error) throw res.error;
  const lines = String(res.stdout).split('\n');
  batchSupported = res.status === 0 && lines.length === 3 && lines[2] === '' &&
    lines.slice(0, 2).every((l) => ERROR_LINE.test(l));
  return batchSupported;
}

/**
 * Runs pz on every string. Returns [{ line, ok, problem }]: `ok` is whether pz decoded it;
 * `problem` is a protocol violation (crash, wrong exit code, not exactly one line) or null.
 */
function runPz(strings) {
  if (probeBatch()) {
    const res = spawnSync(PZ_BIN, ['tcf', '-'], {
      input: strings.join('\n') + '\n', maxBuffer: 1 << 30, timeout: 600000,
    });
    if (res.error) throw res.error;
    assert.equal(res.signal, null, `pz tcf - died with ${res.signal}: ${String(res.stderr).slice(0, 2000)}`);
    assert.equal(res.status, 0, `pz tcf - exited ${res.status}: ${String(res.stderr).slice(0, 2000)}`);
    const lines = new TextDecoder('utf-8').decode(res.stdout).split('\n');
    assert.equal(lines.pop(), '', 'output must end with a newline');
    assert.equal(lines.length, strings.length, 'one output line per input line');
    return lines.map((line) => ({ line, ok: !line.startsWith('{"error":'), problem: null }));
  }
  return strings.map((s) => {
    const res = spawnSync(PZ_BIN, ['tcf', s], { maxBuffer: 1 << 28, timeout: 60000 });
    if (res.error) throw res.error;
    const out = new TextDecoder('utf-8').decode(res.stdout);
    const line = out.endsWith('\n') ? out.slice(0, -1) : out;
    let problem = null;
    if (res.signal !== null) problem = `killed by ${res.signal}: ${String(res.stderr).slice(0, 500)}`;
    else if (!out.endsWith('\n') || line.includes('\n')) problem = 'output is not exactly one line';
    else if (res.status !== (line.startsWith('{"error":') ? 1 : 0)) problem = `exit status ${res.status}`;
    return { line, ok: res.status === 0, problem };
  });
}

/** null when `line` is a well-formed pz tcf output line, else what is wrong. */
function malformed(line) {
  if (line.startsWith('{"error":')) return ERROR_LINE.test(line) ? null : 'malformed error line';
  let o;
  try {
    o = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  const keys = Object.keys(o);
  if (keys.join(',') !== ALL_KEYS.join(',')) return `keys ${keys.join(',')}`;
  return null;
}

/** pz keeps restrictions listed with NumEntries 0; @iabtcf/core drops them. */
function withoutEmptyRestrictions(line) {
  const o = JSON.parse(line);
  o.publisherRestrictions = o.publisherRestrictions.filter((r) => r.vendors.length > 0);
  return JSON.stringify(o);
}

let failuresFileReset = false;
function recordFailures(kind, failures) {
  if (failures.length === 0) return;
  fs.mkdirSync(path.dirname(FAILURES_FILE), { recursive: true });
  if (!failuresFileReset) {
    fs.writeFileSync(FAILURES_FILE, '');
    failuresFileReset = true;
  }
  fs.appendFileSync(FAILURES_FILE, failures.map((f) => JSON.stringify({ kind, seed: SEED, ...f })).join('\n') + '\n');
}

/** Reads bit `i` of a base64url segment. */
function bitAt(segment, i) {
  return (B64.indexOf(segment[Math.floor(i / 6)]) >> (5 - (i % 6))) & 1;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

const generated = [];

test('pz binary is present', () => {
  assert.ok(fs.existsSync(PZ_BIN), `${PZ_BIN} not found: build it (or set PZ_BIN)`);
  console.log(`# tcf diff: seed=${SEED} cases=${N_CASES} mutations=${N_MUTATIONS} bin=${PZ_BIN} ` +
    `batch=${probeBatch()}`);
});

test('random TCModels encoded by @iabtcf/core decode identically', () => {
  const rng = new Rng(SEED);
  const cases = [];
  const stats = { vcRange: 0, vcField: 0, liRange: 0, liField: 0, restrictions: 0, serviceSpecific: 0,
    disclosed: 0, allowed: 0, publisherTC: 0, customPurposes: 0 };
  for (let i = 0; i < N_CASES; i++) {
    const { model, segments } = randomModel(rng);
    const str = encode(model, segments);
    const exp = oracle(str);
    assert.ok(!exp.error, `@iabtcf/core cannot decode its own encoding ${str}: ${exp.error}`);
    // The generator does what it claims (guards the oracle, not pz).
    assert.deepEqual(ids(exp.model.vendorConsents), ids(model.vendorConsents));
    assert.deepEqual(ids(exp.model.vendorLegitimateInterests), ids(model.vendorLegitimateInterests));
    assert.deepEqual(ids(exp.model.purposeConsents), ids(model.purposeConsents));
    const core = str.split('.')[0];
    const vcBits = exp.model.vendorConsents.bitLength;
    if (bitAt(core, 213 + 16)) stats.vcRange++; else stats.vcField++;
    if (bitAt(core, 213 + vcBits + 16)) stats.liRange++; else stats.liField++;
    if (!exp.model.publisherRestrictions.isEmpty()) stats.restrictions++;
    if (model.isServiceSpecific) stats.serviceSpecific++;
    if (segments.includes(Segment.VENDORS_DISCLOSED)) stats.disclosed++;
    if (segments.includes(Segment.VENDORS_ALLOWED)) stats.allowed++;
    if (segments.includes(Segment.PUBLISHER_TC)) stats.publisherTC++;
    if (segments.includes(Segment.PUBLISHER_TC) && model.numCustomPurposes > 0) stats.customPurposes++;
    cases.push({ str, expected: exp.line });
  }
  console.log(`# tcf diff coverage: ${JSON.stringify(stats)}`);
  if (N_CASES >= 200) {
    for (const [k, v] of Object.entries(stats)) {
      if (k !== 'serviceSpecific') assert.ok(v >= N_CASES / 20, `generator coverage too low for ${k}: ${v}`);
    }
    assert.ok(stats.serviceSpecific >= N_CASES / 4 && stats.serviceSpecific <= (3 * N_CASES) / 4);
  }

  const got = runPz(cases.map((c) => c.str));
  const failures = [];
  cases.forEach((c, i) => {
    const g = got[i];
    if (g.problem || g.line !== c.expected) {
      failures.push({ tc: c.str, expected: c.expected, got: g.line, problem: g.problem });
    }
  });
  recordFailures('generated', failures);
  generated.push(...cases.map((c) => c.str));
  assert.equal(failures.length, 0,
    `${failures.length}/${cases.length} mismatches (see ${FAILURES_FILE}); first: ${JSON.stringify(failures[0])}`);
});

const ODD_CHARS = ['%', '=', '.', '+', '/', ' ', '"', '\\', '\t', '*', '\u00e9', '\u20ac'];

function mutate(rng, s) {
  const pos = () => rng.int(s.length);
  const setChar = (i, c) => s.slice(0, i) + c + s.slice(i + 1);
  const flip = (str) => {
    const i = rng.int(str.length);
    const v = B64.indexOf(str[i]);
    if (v < 0) return str;
    return str.slice(0, i) + B64[v ^ (1 << rng.int(6))] + str.slice(i + 1);
  };
  switch (rng.int(9)) {
    case 0: return s.slice(0, rng.range(0, s.length - 1)); // truncation (may end in '.')
    case 1: return flip(s);
    case 2: { // several flips in the first 60 characters (the fixed core fields)
      let t = s;
      const n = rng.range(1, 4);
      for (let k = 0; k < n; k++) {
        const i = rng.int(Math.min(60, t.length));
        const v = B64.indexOf(t[i]);
        if (v >= 0) t = t.slice(0, i) + B64[v ^ (1 << rng.int(6))] + t.slice(i + 1);
      }
      return t;
    }
    case 3: return setChar(pos(), rng.pick(B64));
    case 4: { const i = pos(); return s.slice(0, i) + s.slice(i + 1); }
    case 5: { const i = rng.range(0, s.length); return s.slice(0, i) + rng.pick(ODD_CHARS) + s.slice(i); }
    case 6: { // truncate one segment, keep the others
      const segs = s.split('.');
      const k = rng.int(segs.length);
      segs[k] = segs[k].slice(0, rng.range(1, Math.max(1, segs[k].length - 1)));
      return segs.join('.');
    }
    case 7: { // drop, duplicate or swap segments
      const segs = s.split('.');
      const k = rng.int(segs.length);
      const r = rng.int(3);
      if (r === 0 && segs.length > 1) segs.splice(k, 1);
      else if (r === 1) segs.splice(k, 0, segs[k]);
      else rng.shuffle(segs);
      return segs.join('.');
    }
    default: return s + rng.pick(['=', '==', '.', '.A', '.IAAA', '.QAAA', '.YAAA', '.gAAA', 'AAAA']);
  }
}

test('mutated strings: one well-formed line, never a crash; a decode agrees with @iabtcf/core', () => {
  assert.ok(generated.length > 0 || N_MUTATIONS === 0, 'needs the generated strings');
  const rng = new Rng((SEED ^ 0x9e3779b9) >>> 0);
  const inputs = [];
  for (let i = 0; i < N_MUTATIONS; i++) {
    const m = mutate(rng, rng.pick(generated));
    if (m.length > 0) inputs.push(m);
  }
  const got = runPz(inputs);
  const failures = [];
  const stats = { decoded: 0, errors: 0, agreed: 0, skipped: 0 };
  inputs.forEach((str, i) => {
    const g = got[i];
    const bad = g.problem || malformed(g.line);
    if (bad) {
      failures.push({ tc: str, got: g.line, problem: bad });
      return;
    }
    if (!g.ok) {
      stats.errors++;
      return;
    }
    stats.decoded++;
    const o = JSON.parse(g.line);
    // Keep @iabtcf/core's unbalanced BST (O(n^2) inserts) away from huge restriction ranges.
    const restricted = o.publisherRestrictions.reduce(
      (n, r) => n + r.vendors.reduce((k, [a, b]) => k + b - a + 1, 0), 0);
    if (restricted > 5000) {
      stats.skipped++;
      return;
    }
    const exp = oracle(str);
    if (exp.error) {
      if (o.cmpId <= 1) {
        stats.skipped++;
        return;
      }
      failures.push({ tc: str, got: g.line, problem: `@iabtcf/core throws: ${exp.error}` });
      return;
    }
    if (withoutEmptyRestrictions(g.line) !== exp.line) {
      failures.push({ tc: str, expected: exp.line, got: g.line, problem: 'decoded differently' });
      return;
    }
    stats.agreed++;
  });
  console.log(`# tcf mutations: ${JSON.stringify(stats)}`);
  recordFailures('mutated', failures);
  assert.equal(failures.length, 0,
    `${failures.length}/${inputs.length} failures (see ${FAILURES_FILE}); first: ${JSON.stringify(failures[0])}`);
});
