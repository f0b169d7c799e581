// Writes the libFuzzer seed corpora for the targets in fuzz/ from what the repository already has:
//   bundle:   tests/vectors/**/*.json "bundle" values, demo-site/bundle.json, bundle-like JSON
//             literals of tests/core/*.cpp, a few small valid and invalid bundles
//   rule:     every segment rule / metric where / action eligible of those bundles, the rule
//             literals of tests/core/logic_test.cpp, and a handful written here
//   simulate: the vectors' event lines, demo-site/sample-events.jsonl, and `pz eval` lines
//             {"rule":…, "data":…} built from the rule seeds
//   event:    event lines of the vectors and demo-site/sample-events.jsonl (one per seed and as
//             streams), and events that break each rule of pz::parse_event
//   tcf:      TC strings of the tests and vectors, strings encoded here with @iabtcf/core (when
//             node_modules has it), each also in fuzz_tcf's binary form (0x00, then per segment a
//             2-byte length and the segment's bytes), and malformed strings
//   profile:  sync states of tests/vectors/sync, tests/core and docs/sync.md, one per line, in
//             pairs and triples (fuzz_profile reads up to three lines), plus version vectors
//   http:     HTTP/1.1 requests written here: every pz-server endpoint with valid keys and bodies
//             (built from the seeds above), keep-alive sequences, CORS, HEAD, chunked bodies, and
//             malformed requests (bad keys, paths, lengths, headers over 16 KB)
//   json:     all of the above but tcf and http, plus JSON edge cases
// Seeds are named by the SHA-1 of their content, as libFuzzer names what it adds, so re-running
// overwrites instead of duplicating. Generated files are never committed (build-fuzz/ is output).
//
//   node fuzz/make_corpus.mjs <repo root> <corpus dir>
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [root, outDir] = process.argv.slice(2);
if (!root || !outDir) {
  console.error('usage: node fuzz/make_corpus.mjs <repo root> <corpus dir>');
  process.exit(2);
}

const seeds = {
  json: new Set(), rule: new Set(), bundle: new Set(), simulate: new Set(),
  event: new Set(), tcf: new Set(), profile: new Set(), http: new Set(),
};
const add = (target, text) => {
  if (typeof text === 'string' && text.length > 0 && text.length <= 64 * 1024) seeds[target].add(text);
};
const read = (p) => fs.readFileSync(path.join(root, p), 'utf8');
const walk = (dir) => {
  const full = path.join(root, dir);
  if (!fs.existsSync(full)) return [];
  return fs.readdirSync(full, { withFileTypes: true }).flatMap((d) => {
    const rel = path.join(dir, d.name);
    return d.isDirectory() ? walk(rel) : [rel];
  });
};
const tryParse = (text) => {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
};
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---- rules written here: every operator at least once
const RULES = [
  { var: 'a' }, { var: ['e.f.g', 0] }, { var: '' }, { var: 'c.7.d' }, { var: 's.length' },
  { missing: ['a', 'zz', 'e.f'] }, { missing_some: [1, ['a', 'zz']] },
  { if: [{ var: 't' }, 'yes', { '==': [1, '1'] }, 'loose', 'no'] }, { '?:': [false, 1, 2] },
  { '==': [null, { var: 'n' }] }, { '===': [1, 1.0] }, { '!=': ['1', 1] }, { '!==': [[], []] },
  { '!': [[]] }, { '!!': ['0'] }, { or: [0, '', { var: 'b' }] }, { and: [1, { var: 'c' }, 'z'] },
  { '<': [1, { var: 'a' }, 3] }, { '<=': ['a', 'b'] }, { '>': ['10', 9] }, { '>=': [null, 0] },
  { max: [1, '2', { var: 'nums' }] }, { min: [] }, { '+': ['1.5e1', 2, true] }, { '-': [5] },
  { '*': [{ var: 'a' }, '3'] }, { '/': [1, 0] }, { '%': [-7, 3] },
  { map: [{ var: 'nums' }, { '*': [{ var: '' }, 2] }] },
  { filter: [{ var: 'list' }, { in: ['an', { var: '' }] }] },
  { reduce: [{ var: 'nums' }, { '+': [{ var: 'current' }, { var: 'accumulator' }] }, 0] },
  { all: [{ var: 'nums' }, { '>': [{ var: '' }, 0] }] }, { none: [[], true] },
  { some: [{ var: 'c' }, { '===': [{ var: '' }, 'x'] }] }, { merge: [1, [2, [3]], { var: 'c' }] },
  { in: ['b', 'abc'] }, { in: [2, [1, 2]] }, { cat: ['a', 1.5, null, [1, 2], { var: 's' }] },
  { substr: [{ var: 's' }, -3, 2] }, { substr: ['h\ud83d\ude00', 1, 1] }, { log: 'x' },
  { starts_with: [{ var: 'path' }, '/shop'] }, { ends_with: ['file.json', '.json'] },
  { sem_ver: [{ var: 'version' }, '>=', '1.2.0'] }, { sem_ver: ['v1.2', '^', '1.9.9'] },
  { sem_ver: ['1.2.3', '~', '1.2.9-rc.1+b'] }, { bucket: ['exp-1', 50] },
  { count: ['page_view', '7d'] }, { metric: ['spend', '30d'] }, { since: ['purchase'] },
  { in_segment: ['loyal'] }, { unknown_op: [1] }, { var: { cat: ['e.', 'f'] } },
  { '+': [{ var: 'big' }, { var: 'big' }] }, { '*': [{ var: 'tiny' }, 0.5] },
  { cat: [{ substr: [{ var: 's' }, 0, -1] }, { substr: [{ var: 's' }, -1] }] },
];
for (const r of RULES) add('rule', JSON.stringify(r));

// ---- bundles
const BUNDLES = [];
for (const f of walk('tests/vectors').filter((p) => p.endsWith('.json'))) {
  const doc = tryParse(read(f));
  if (!doc.ok || !isObj(doc.value)) continue;
  if (doc.value.bundle !== undefined) BUNDLES.push(doc.value.bundle);
  if (Array.isArray(doc.value.events)) {
    const lines = doc.value.events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)));
    add('simulate', lines.join('\n') + '\n');
  }
}
if (fs.existsSync(path.join(root, 'demo-site/bundle.json'))) {
  const text = read('demo-site/bundle.json');
  add('bundle', text);
  const doc = tryParse(text);
  if (doc.ok) BUNDLES.push(doc.value);
}
if (fs.existsSync(path.join(root, 'demo-site/sample-events.jsonl'))) {
  const text = read('demo-site/sample-events.jsonl');
  add('simulate', text);
  for (const line of text.split('\n')) add('simulate', line);
}
BUNDLES.push(
  { version: 'min' },
  { version: 'full', consent: { mode: 'opt-out', gpc: 'ignore' },
    retention: { hourly_buckets: 24, daily_buckets: 30 },
    metrics: [{ id: 'm', event: 'e', sum: 'props.value', where: { '>': [{ var: 'event.props.value' }, 0] } }],
    segments: [{ id: 's1', rule: { '>=': [{ metric: ['m', '7d'] }, 1] } },
               { id: 's2', rule: { and: [{ in_segment: ['s1'] }, { '<': [{ since: ['e'] }, 60000] }] } },
               { id: 's3', rule: { '==': [{ bucket: ['exp', 50] }, true] } },
               { id: 's4', rule: { '!!': { var: 'segments.s1' } } }],
    actions: [{ id: 'a', slots: ['hero'], eligible: { in_segment: ['s2'] }, propensity: 0.5, value: 3,
                lever: 1, context_weight: 2, caps: { per_session: 1, per_day: 2, total: 3 }, content: 'x' }],
    defaults: { hero: { content: null } } },
  { version: 'bad', segments: [{ id: 'a', rule: { in_segment: ['b'] } }, { id: 'b', rule: { in_segment: ['a'] } }] },
  { version: 'bad2', metrics: [{ id: 'm' }], segments: [{ id: 's', rule: { count: ['x', '9999d'] } }], extra: 1 },
);
for (const b of BUNDLES) {
  add('bundle', JSON.stringify(b));
  add('bundle', JSON.stringify(b, null, 1));
  if (!isObj(b)) continue;
  for (const m of Array.isArray(b.metrics) ? b.metrics : []) if (isObj(m) && m.where !== undefined) add('rule', JSON.stringify(m.where));
  for (const s of Array.isArray(b.segments) ? b.segments : []) if (isObj(s) && s.rule !== undefined) add('rule', JSON.stringify(s.rule));
  for (const a of Array.isArray(b.actions) ? b.actions : []) if (isObj(a) && a.eligible !== undefined) add('rule', JSON.stringify(a.eligible));
}

// ---- JSON literals of the C++ tests (R"(…)" and R"delim(…)delim")
for (const f of walk('tests/core').filter((p) => p.endsWith('.cpp'))) {
  const src = read(f);
  for (const line of src.split('\n')) {
    const lits = [...line.matchAll(/R"([^(\s]{0,16})\((.*?)\)\1"/g)].map((m) => m[2]);
    lits.forEach((t, i) => {
      if (!tryParse(t).ok) return;
      add('json', t);
      if (f.endsWith('logic_test.cpp') && i === 0) add('rule', t);
      if (f.endsWith('logic_test.cpp') && i === 1) add('simulate', `{"rule":${lits[0]},"data":${t}}`);
    });
  }
  // Multi-line raw strings: bundles in bundle/engine/cli tests.
  for (const m of src.matchAll(/R"([^(\s]{0,16})\(([\s\S]*?)\)\1"/g)) {
    const doc = tryParse(m[2]);
    if (!doc.ok) continue;
    add('json', m[2]);
    if (isObj(doc.value) && ('version' in doc.value || 'segments' in doc.value)) add('bundle', m[2]);
    if (isObj(doc.value) && ('t' in doc.value || 'decide' in doc.value)) add('simulate', m[2]);
  }
}

// ---- `pz eval` lines
const FIXED_DATA = { a: 1, b: 'two', c: [1, 2, 'x', null], s: 'h\ud83d\ude00', nums: [3, 1, 4], list: ['apple', 'banana'],
                     path: '/shop/x', version: '1.2.3', e: { f: { g: -0.5 } }, n: null, t: true };
const evalLines = [...seeds.rule].slice(0, 200).map((r) => `{"rule":${r},"data":${JSON.stringify(FIXED_DATA)}}`);
for (let i = 0; i < evalLines.length; i += 20) add('simulate', evalLines.slice(i, i + 20).join('\n'));
add('simulate', '{"rule":{"var":"a"}}\n{"rule":1,"data":[1]}\nnot json\n[]\n{"t":1e300,"decide":["hero"]}\n');

// ---- JSON edge cases
for (const t of ['0', '-0', '1e400', '-1e-400', '123456789012345678901234567890', '0.1', '"\\ud83d"',
                 '"\\ud83d\\ude00"', '"\\ude00\\ud83d"', '"\\u0000\\u001f\\u007f"', '"é\u2028\u2029"',
                 '{"a":1,"a":2,"1":3,"0":4}', '[[[[[[[[[[]]]]]]]]]]', '{"__proto__":{"x":1}}', 'null',
                 ' \t\r\n[1 , 2 ]\n', '{"\\ud800":"\\udfff"}', '[1e21,1e-7,5e-324,1.7976931348623157e308]']) {
  add('json', t);
}
// ---- events (fuzz_event: one event per line)
const EVENTS = [];
for (const f of walk('tests/vectors').filter((p) => p.endsWith('.json'))) {
  const doc = tryParse(read(f));
  if (!doc.ok || !isObj(doc.value) || !Array.isArray(doc.value.events)) continue;
  for (const e of doc.value.events) if (isObj(e) && typeof e.type === 'string') EVENTS.push(JSON.stringify(e));
}
if (fs.existsSync(path.join(root, 'demo-site/sample-events.jsonl'))) {
  for (const line of read('demo-site/sample-events.jsonl').split('\n')) if (line.trim()) EVENTS.push(line);
}
EVENTS.push(
  '{"t":1793610000000,"type":"page_view","id":"x1","page":{"path":"/pricing","url":"https://shop.example/pricing","referrer":"","title":"Pricing"}}',
  '{"t":1793610000000.7,"type":"purchase","props":{"value":"12.5","currency":"EUR","items":[1,2]}}',
  '{"t":-1,"type":"add_to_cart","props":{}}',
  '{"t":8640000000000000,"type":"page_view","page":{}}',
);
for (const e of EVENTS) add('event', e);
for (let i = 0; i < EVENTS.length; i += 6) add('event', EVENTS.slice(i, i + 6).join('\n') + '\n');
const BAD_EVENTS = [
  '[]', '"page_view"', 'null', '{}', '{"t":1}', '{"type":"x"}', '{"type":"","t":1}', '{"type":7,"t":1}',
  `{"type":"${'x'.repeat(129)}","t":1}`, '{"type":"x","t":"1"}', '{"type":"x","t":1e300}',
  '{"type":"x","t":8640000000000001}', '{"type":"x","t":null}', '{"type":"x","t":1,"id":5}',
  '{"type":"x","t":1,"props":[]}', '{"type":"x","t":1,"page":"/"}', '{"type":"x","t":1,"page":{"url":1}}',
  '{"type":"x","t":1,"page":{"path":null}}', '{"type":"x","t":1,"page":{"referrer":[]}}',
  '{"type":"x","t":1,"page":{"title":{}}}', '{"type":"x","t":1', '{"type":"x","t":1}}', 'not json',
];
for (const e of BAD_EVENTS) add('event', e);
add('event', [EVENTS[0], BAD_EVENTS[5], EVENTS[1] || EVENTS[0], BAD_EVENTS[14], EVENTS[2] || EVENTS[0]].join('\n'));

// ---- TC strings (fuzz_tcf)
const TC_FILES = ['tests/core/tcf_test.cpp', 'tests/core/consent_test.cpp', 'tests/js/tcf_diff.test.mjs',
  'tests/js/cli_parity.test.mjs', 'tests/js/runtime_consent.test.mjs', 'tests/js/host.test.mjs',
  ...walk('tests/vectors').filter((p) => p.endsWith('.json')), ...walk('docs').filter((p) => p.endsWith('.md'))];
const TC = new Set();
for (const f of TC_FILES) {
  if (!fs.existsSync(path.join(root, f))) continue;
  for (const m of read(f).matchAll(/\bC[A-Za-z0-9_-]{19,}(?:\.[A-Za-z0-9_-]+)*/g)) {
    if (/[0-9_-]/.test(m[0]) || m[0].length >= 40) TC.add(m[0]);
  }
}
try {
  const { PurposeRestriction, Segment, SegmentEncoder, TCModel } = await import('@iabtcf/core');
  let x = 0x2545f491;
  const rnd = (n) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % n;
  };
  const ids = (hi, k) => [...new Set(Array.from({ length: k }, () => 1 + rnd(hi)))];
  for (let i = 0; i < 24; i++) {
    const m = new TCModel();
    m.cmpId = 2 + rnd(4000);
    m.cmpVersion = rnd(4096);
    m.consentScreen = rnd(64);
    m.consentLanguage = 'EN';
    m.vendorListVersion = rnd(4096);
    m.policyVersion = [2, 4, 5][rnd(3)];
    m.isServiceSpecific = rnd(2) === 1;
    m.publisherCountryCode = 'DE';
    m.created = new Date(1.7e12 + rnd(1e9) * 100);
    m.lastUpdated = m.created;
    m.specialFeatureOptins.set(ids(12, rnd(4)));
    m.purposeConsents.set(ids(24, rnd(12)));
    m.purposeLegitimateInterests.set(ids(24, rnd(8)));
    m.vendorConsents.set(ids(i % 3 === 0 ? 3000 : 200, rnd(40)));
    m.vendorLegitimateInterests.set(ids(300, rnd(20)));
    const segs = [Segment.CORE];
    if (i % 2 === 0) {
      const gvlIds = new Set(ids(500, 60));
      for (let k = 0; k < 1 + rnd(3); k++) {
        const pr = new PurposeRestriction(1 + rnd(24), rnd(3));
        for (const v of ids(500, 1 + rnd(6))) {
          gvlIds.add(v);
          m.publisherRestrictions.add(v, pr);
        }
      }
      m.publisherRestrictions.gvl = { vendorIds: gvlIds };
    }
    if (i % 3 !== 2) {
      m.vendorsDisclosed.set(ids(400, rnd(30)));
      segs.push(Segment.VENDORS_DISCLOSED);
    }
    if (i % 4 === 1) {
      m.vendorsAllowed.set(ids(400, rnd(10)));
      segs.push(Segment.VENDORS_ALLOWED);
    }
    if (i % 3 === 0) {
      m.publisherConsents.set(ids(24, rnd(6)));
      m.publisherLegitimateInterests.set(ids(24, rnd(6)));
      m.numCustomPurposes = rnd(8);
      if (m.numCustomPurposes > 0) m.publisherCustomConsents.set(ids(m.numCustomPurposes, 2));
      segs.push(Segment.PUBLISHER_TC);
    }
    TC.add(segs.map((seg) => SegmentEncoder.encode(m, seg)).join('.'));
  }
} catch (e) {
  console.log(`corpus tcf: no strings from @iabtcf/core (${e.message.split('\n')[0]})`);
}
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const tcfBinary = (tc) => {
  const parts = [Buffer.from([0])];
  for (const seg of tc.split('.')) {
    const bits = [...seg.replace(/=+$/, '')].map((c) => Math.max(0, B64URL.indexOf(c)).toString(2).padStart(6, '0')).join('');
    const bytes = Buffer.alloc(Math.ceil(bits.length / 8));
    for (let i = 0; i < bits.length; i++) if (bits[i] === '1') bytes[i >> 3] |= 0x80 >> (i & 7);
    parts.push(Buffer.from([bytes.length >> 8, bytes.length & 255]), bytes);
  }
  return Buffer.concat(parts);
};
const binarySeeds = [];
for (const tc of TC) {
  add('tcf', tc);
  binarySeeds.push(tcfBinary(tc));
}
const firstTc = [...TC][0] || 'CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA';
for (const t of ['', 'C', 'BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA', firstTc + '.', firstTc + '..x', firstTc + '==',
                 firstTc + '=', firstTc.slice(0, 20), firstTc.replace('A', '%'), firstTc + '.QAAA.QAAA', firstTc + '.AAAA',
                 firstTc + '.4AAA', firstTc + '.YAAAAAAAAAAA.YAAAAAAAAAAA', 'IDKQA4AAgAKAGQAygAAA.' + firstTc]) {
  add('tcf', t);
}

// ---- sync states (fuzz_profile: up to three lines)
const STATES = [];
const addState = (v) => {
  if (isObj(v) && v.v !== undefined) STATES.push(JSON.stringify(v));
};
for (const f of walk('tests/vectors/sync').filter((p) => p.endsWith('.json'))) {
  const doc = tryParse(read(f));
  if (!doc.ok || !isObj(doc.value) || !Array.isArray(doc.value.events)) continue;
  for (const e of doc.value.events) if (isObj(e) && e.sync !== undefined) addState(e.sync);
}
for (const f of [...walk('tests/core').filter((p) => p.endsWith('.cpp')), 'docs/sync.md']) {
  if (!fs.existsSync(path.join(root, f))) continue;
  const src = read(f);
  for (const m of src.matchAll(/R"([^(\s]{0,16})\(([\s\S]*?)\)\1"/g)) {
    const doc = tryParse(m[2]);
    if (doc.ok) addState(doc.value);
  }
  for (const m of src.matchAll(/```json\n([\s\S]*?)```/g)) {
    const doc = tryParse(m[1]);
    if (doc.ok) addState(doc.value);
  }
}
const comp = (device, epoch, version, extra = {}) => ({
  device, epoch, version, seen: true, first_seen: 1793610000000, last_seen: 1793610120000, sessions: 1,
  metrics: [['spend', { total: 50, last: 1793610120000, hourly: [[498225, 50]], daily: [[20759, 50]] }]],
  counts: [['page_view', { total: 2, last: 1793610060000, hourly: [[498225, 2]], daily: [[20759, 2]] }]],
  exposures: [['vip_offer', [1, 0, 0, 0, 20759, 1, 1, 1, null]]], ...extra,
});
const st = (o) => ({ v: 1, erased_at: null, user_id: null, consent: null, traits: [], components: [], ...o });
for (const v of [
  st({}),
  st({ erased_at: 1793611000000 }),
  st({ user_id: ['user-1', 1793610000000, 0, 'phone'], consent: [{ personalization: true }, 1793610000000, 1, 'phone'] }),
  st({ consent: [{ personalization: false }, 1793612000000, 0, 'laptop'] }),
  st({ traits: [['age', 41, 1793610000000, 0, 'phone'], ['plan', 'pro', 1793610000000, 1, 'phone'], ['x', null, 1793610000001, 0, 'laptop']] }),
  st({ components: [comp('fuzz-device', 0, 99), comp('phone', 0, 5)] }),
  st({ components: [comp('laptop', 0, 3), comp('phone', 1793611000000, 1)], erased_at: 1793611000000 }),
  st({ components: Array.from({ length: 16 }, (_, i) => comp(`d${String(i).padStart(2, '0')}`, 0, i + 1)) }),
  st({ traits: Array.from({ length: 64 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i, 1793610000000 + i, 0, 'd']) }),
]) addState(v);
for (const s of STATES) add('profile', s);
for (let i = 0; i < STATES.length; i++) {
  const j = (i + 1) % STATES.length;
  const k = (i + 3) % STATES.length;
  add('profile', `${STATES[i]}\n${STATES[j]}`);
  add('profile', `${STATES[i]}\n${STATES[j]}\n${STATES[k]}`);
}
for (const t of ['', 'null', '[]', '[["phone",0,5]]', '[["a",0,1],["b",-3,9007199254740991]]', '[["b",0,1],["a",0,1]]',
                 '{"v":2}', '{"v":1,"erased_at":"soon"}', '{"v":1,"components":[{"device":"d"}]}']) {
  add('profile', t);
  if (STATES.length) add('profile', `${STATES[0]}\n${t}\n${STATES[STATES.length - 1]}`);
}

// ---- HTTP requests (fuzz_http: the bytes of one connection)
const CRLF = '\r\n';
const req = (method, target, { key, body, origin, headers = [], close = false, http10 = false } = {}) => {
  const h = [`${method} ${target} HTTP/1.${http10 ? 0 : 1}`, 'Host: 127.0.0.1'];
  if (key) h.push(`Authorization: Bearer ${key}`);
  if (origin) h.push(`Origin: ${origin}`);
  if (body !== undefined) h.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  if (close) h.push('Connection: close');
  h.push(...headers);
  return h.join(CRLF) + CRLF + CRLF + (body ?? '');
};
const T = 1793613600000;
const ev = (i, extra = {}) => ({ t: T + i * 1000, type: 'page_view', id: `e${i}`, page: { path: '/pricing' }, ...extra });
const collect = JSON.stringify({ anonymous_id: 'anon-1', events: [ev(1), ev(2, { type: 'purchase', props: { value: 120 } })] });
const stateA = STATES.find((s) => s.includes('"components":[{')) || JSON.stringify(st({}));
const sync = JSON.stringify({ id: 'anon-1', delta: JSON.parse(stateA), versions: [['phone', 0, 1]] });
const identify = JSON.stringify({ anonymous_id: 'anon-1', user_id: 'user-1' });
const decide = JSON.stringify({ id: 'anon-1', slots: ['hero', 'banner', 'offer_bar', 'recs'], now: T + 5000,
  page: { path: '/pricing' }, context: { device: 'mobile' }, consent: { personalization: true }, why: true });
const demoBundle = fs.existsSync(path.join(root, 'demo-site/bundle.json')) ? read('demo-site/bundle.json') : '{"version":"x"}';
const smallBundle = JSON.stringify({ version: 'fuzz-2', segments: [{ id: 's', rule: { '>=': [{ count: ['page_view', '7d'] }, 1] } }],
  defaults: { hero: { content: { title: 'hi' } } } });
const HTTP = [
  req('GET', '/healthz'), req('HEAD', '/healthz'), req('GET', '/metrics'),
  req('POST', '/v1/collect', { key: 'pk_demo', body: collect }),
  req('POST', '/v1/collect?key=pk_demo', { body: collect }),
  req('POST', '/v1/collect?key=sk_demo', { body: collect }),
  req('POST', '/v1/collect', { key: 'pk_demo', origin: 'https://shop.example', body: collect }),
  req('POST', '/v1/collect', { key: 'pk_demo', origin: 'https://evil.example', body: collect }),
  req('POST', '/v1/collect', { key: 'pk_demo', body: '{"anonymous_id":"a","events":[{"t":"x"},{"type":"y","t":1}]}' }),
  req('POST', '/v1/sync', { key: 'pk_demo', body: sync }),
  req('POST', '/v1/identify', { key: 'pk_demo', body: identify }),
  req('POST', '/v1/decide', { key: 'pk_demo', body: decide }),
  req('POST', '/v1/decide', { key: 'pk_other', body: decide }),
  req('GET', '/v1/bundle', { key: 'pk_demo' }),
  req('GET', '/v1/bundle?key=pk_demo', { headers: ['If-None-Match: W/"x", *'] }),
  req('PUT', '/v1/bundle', { key: 'sk_demo', body: smallBundle }),
  req('PUT', '/v1/bundle', { key: 'sk_demo', body: '{"version":1,"segments":"x"}' }),
  req('PUT', '/v1/bundle', { key: 'pk_demo', body: smallBundle }),
  req('GET', '/v1/bundle/versions', { key: 'sk_demo' }),
  req('POST', '/v1/bundle/rollback', { key: 'sk_demo', body: '{"version":1}' }),
  req('POST', '/v1/bundle/rollback', { key: 'sk_demo', body: '' }),
  req('GET', '/v1/profiles/anon-1', { key: 'sk_demo' }),
  req('GET', '/v1/profiles/user%2D1', { key: 'sk_demo' }),
  req('DELETE', '/v1/profiles/anon-1', { key: 'sk_demo' }),
  req('GET', '/v1/profiles/anon-1', { key: 'sk_demo', origin: 'https://shop.example' }),
  req('OPTIONS', '/v1/collect', { origin: 'https://shop.example', headers: ['Access-Control-Request-Method: POST'] }),
  req('OPTIONS', '/v1/collect', { origin: 'https://evil.example' }),
  req('GET', '/'), req('GET', '/index.html'), req('HEAD', '/app.js'), req('GET', '/sub/a.txt', { headers: ['If-None-Match: *'] }),
  req('GET', '/sub/'), req('GET', '/../secret.txt'), req('GET', '/%2e%2e/secret.txt'), req('GET', '/sub/..%2f..%2fsecret.txt'),
  req('GET', '/sub/%00'), req('GET', '/%zz'), req('GET', '/nope', { http10: true }),
  req('DELETE', '/v1/collect', { key: 'pk_demo' }), req('PATCH', '/v1/bundle', { key: 'sk_demo', body: '{}' }),
  req('POST', '/v1/collect', { key: 'nope', body: '{}' }), req('POST', '/v1/sync', { key: 'pk_demo', body: '[1]' }),
  req('POST', '/v1/sync', { key: 'pk_demo', body: '{"id":"a","delta":{"v":1,"erased_at":"soon"}}' }),
  req('POST', '/v1/decide', { key: 'pk_demo', body: '{"id":"a","slots":[]}' }),
  'POST /v1/collect HTTP/1.1\r\nAuthorization: Bearer pk_demo\r\nTransfer-Encoding: chunked\r\n\r\n' +
    `${Buffer.byteLength(collect).toString(16)}\r\n${collect}\r\n0\r\n\r\n`,
  'POST /v1/collect HTTP/1.1\r\nAuthorization: Bearer pk_demo\r\nContent-Length: 99999999\r\n\r\n{}',
  'POST /v1/collect HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
  'GET /healthz HTTP/1.1\r\nX-Big: ' + 'a'.repeat(16 * 1024) + '\r\n\r\n',
  'GET /healthz HTTP/2.0\r\n\r\n', 'GET  /healthz HTTP/1.1\r\n\r\n', 'GET /healthz\r\n\r\n', '\r\n\r\n',
  'GET /healthz HTTP/1.1\r\nFoo\r\n\r\n', 'GET /healthz HTTP/1.1\nHost: x\n\n',
];
for (const h of HTTP) add('http', h);
// Keep-alive sequences: what a visitor's browser and an admin do on one connection.
add('http', [req('POST', '/v1/collect', { key: 'pk_demo', body: collect }), req('POST', '/v1/sync', { key: 'pk_demo', body: sync }),
  req('POST', '/v1/decide', { key: 'pk_demo', body: decide }), req('POST', '/v1/identify', { key: 'pk_demo', body: identify }),
  req('POST', '/v1/sync', { key: 'pk_demo', body: sync.replace('anon-1', 'user-1') }),
  req('GET', '/v1/profiles/user-1', { key: 'sk_demo' }), req('DELETE', '/v1/profiles/user-1', { key: 'sk_demo' }),
  req('POST', '/v1/decide', { key: 'pk_demo', body: decide, close: true })].join(''));
add('http', [req('PUT', '/v1/bundle', { key: 'sk_demo', body: smallBundle }), req('GET', '/v1/bundle/versions', { key: 'sk_demo' }),
  req('POST', '/v1/decide', { key: 'pk_demo', body: decide }), req('POST', '/v1/bundle/rollback', { key: 'sk_demo', body: '' }),
  req('GET', '/v1/bundle', { key: 'pk_demo' })].join(''));
add('http', req('PUT', '/v1/bundle', { key: 'sk_other', body: demoBundle }));
for (const e of EVENTS.slice(0, 8)) {
  add('http', req('POST', '/v1/collect', { key: 'pk_demo', body: `{"anonymous_id":"a","events":[${e}]}` }));
}
for (const s of STATES.slice(0, 8)) {
  add('http', req('POST', '/v1/sync', { key: 'pk_other', body: `{"id":"p","delta":${s}}` }));
}

for (const target of ['rule', 'bundle', 'simulate', 'event', 'profile']) for (const t of seeds[target]) add('json', t);

const binary = { tcf: binarySeeds };
for (const [target, set] of Object.entries(seeds)) {
  const dir = path.join(outDir, target);
  fs.mkdirSync(dir, { recursive: true });
  const all = [...set, ...(binary[target] || [])];
  for (const data of all) {
    const name = crypto.createHash('sha1').update(data).digest('hex');
    fs.writeFileSync(path.join(dir, name), data);
  }
  console.log(`corpus ${target}: ${all.length} seeds`);
}
