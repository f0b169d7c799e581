// Writes the libFuzzer seed corpora for the targets in fuzz/ from what the repository already has:
//   bundle:   tests/vectors/**/*.json "bundle" values, demo-site/bundle.json, bundle-like JSON
//             literals of tests/core/*.cpp, a few small valid and invalid bundles
//   rule:     every segment rule / metric where / action eligible of those bundles, the rule
//             literals of tests/core/logic_test.cpp, and a handful written here
//   simulate: the vectors' event lines, demo-site/sample-events.jsonl, and `pz eval` lines
//             {"rule":…, "data":…} built from the rule seeds
//   json:     all of the above plus JSON edge cases
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

const seeds = { json: new Set(), rule: new Set(), bundle: new Set(), simulate: new Set() };
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
for (const target of ['rule', 'bundle', 'simulate']) for (const t of seeds[target]) add('json', t);

for (const [target, set] of Object.entries(seeds)) {
  const dir = path.join(outDir, target);
  fs.mkdirSync(dir, { recursive: true });
  for (const text of set) {
    const name = crypto.createHash('sha1').update(text).digest('hex');
    fs.writeFileSync(path.join(dir, name), text);
  }
  console.log(`corpus ${target}: ${set.size} seeds`);
}
