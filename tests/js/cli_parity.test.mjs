// The wasm CLI (`node js/bin/pz.mjs`) prints the same bytes and exits with the same code as the
// native `pz` (PZ_BIN), for every shared vector (simulate and explain), eval lines, TC strings,
// bundles to validate, and the error paths of the command line itself. Vectors are also checked
// against their "expected" lines on the wasm side, so a change that breaks both targets alike
// still fails.
//
//   node --test tests/js/cli_parity.test.mjs   (needs build/pz and build-wasm/pz_core.wasm)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PZ_BIN, PZ_WASM, PZ_WASM_BIN, ROOT } from './harness.mjs';

const env = { ...process.env, PZ_WASM };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-parity-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function run(bin, args, input) {
  const r = spawnSync(bin, args, { input, env, maxBuffer: 1 << 28 });
  // EPIPE: the program exited without reading all of its input (e.g. a bundle it rejected
  // first), a race with the write, not a failure; its exit code and output still count.
  if (r.error && !(r.error.code === 'EPIPE' && r.status !== null)) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs both CLIs and asserts the same stdout bytes, stderr bytes and exit code. */
function same(args, input = '', what = args.join(' ')) {
  const native = run(PZ_BIN, args, input);
  const wasm = run(PZ_WASM_BIN, args, input);
  assert.equal(wasm.code, native.code, `${what}: exit code`);
  assert.ok(Buffer.compare(wasm.stdout, native.stdout) === 0,
    `${what}: stdout differs\nnative: ${native.stdout.toString().slice(0, 2000)}\n` +
    `wasm:   ${wasm.stdout.toString().slice(0, 2000)}\nwasm stderr: ${wasm.stderr}`);
  assert.equal(wasm.stderr.toString(), native.stderr.toString(), `${what}: stderr`);
  return native;
}

function vectorFiles() {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.json') && e.name !== 'exceptions.json') out.push(p);
    }
  };
  walk(path.join(ROOT, 'tests', 'vectors'));
  return out.sort();
}

const exceptions = JSON.parse(
  fs.readFileSync(path.join(ROOT, 'tests', 'vectors', 'exceptions.json'), 'utf8')).exceptions;
const wasmSkipped = new Set(exceptions.filter((e) => e.vector && e.targets.includes('wasm'))
  .map((e) => e.vector));

test('the wasm module and the native CLI exist', () => {
  assert.ok(fs.existsSync(PZ_BIN), `${PZ_BIN} missing: build the native project first`);
  assert.ok(fs.existsSync(PZ_WASM), `${PZ_WASM} missing: run scripts/build-wasm.sh`);
});

test('every vector: simulate and explain print the same bytes, and the expected lines', () => {
  const files = vectorFiles();
  assert.ok(files.length >= 15, `only ${files.length} vectors found`);
  let checked = 0;
  for (const file of files) {
    const rel = path.relative(path.join(ROOT, 'tests', 'vectors'), file);
    if (wasmSkipped.has(rel)) continue;
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    const bundlePath = path.join(tmp, rel.replaceAll('/', '_'));
    fs.writeFileSync(bundlePath, JSON.stringify(v.bundle));
    const input = v.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    const args = ['simulate', '--bundle', bundlePath, ...(v.id ? ['--id', v.id] : [])];
    const r = same(args, input, rel);
    const want = v.expected.map((e) => JSON.stringify(e) + '\n').join('');
    assert.equal(r.stdout.toString(), want, `${rel}: output is not the vector's expected lines`);
    same(['explain', ...args.slice(1)], input, `${rel} (explain)`);
    ++checked;
  }
  assert.ok(checked >= 15);
});

test('the demo bundle and sample events (input without a final newline, CRLF lines)', () => {
  const bundle = path.join(ROOT, 'demo-site', 'bundle.json');
  const events = fs.readFileSync(path.join(ROOT, 'demo-site', 'sample-events.jsonl'), 'utf8');
  const r = same(['simulate', '--bundle', bundle], events);
  assert.ok(r.stdout.length > 0);
  same(['simulate', '--bundle', bundle, '--id', 'visitor-7'], events.trimEnd());
  same(['simulate', '--bundle', bundle], events.replaceAll('\n', '\r\n'));
  same(['explain', '--bundle', bundle], events);
});

test('eval: values, JavaScript semantics, errors and malformed lines', () => {
  const lines = [
    { rule: { '+': [0.1, 0.2] }, data: null },
    { rule: { cat: ['a', 1e21, 1e-7, -0, 123456789012345680000] } },
    { rule: { var: 'a.b' }, data: { a: { b: [1, 'é', null, true] } } },
    { rule: { '==': [[], false] } },
    { rule: { map: [{ var: 'xs' }, { '*': [{ var: '' }, 2] }] }, data: { xs: [1, 2.5, -3] } },
    { rule: { substr: ['\u{1F600}abc', 1] } },
    { rule: { sem_ver: ['1.2.3', '^', '1.0.0'] } },
    { rule: { fo: [1] } },
    { rule: { count: ['x', '1d'] } },
    { data: {} },
    [1, 2],
  ].map((l) => JSON.stringify(l));
  lines.push('{"rule":', '   ', '', 'not json', '{"rule":"\\ud800"}', '{"rule":{"cat":["\\udc00x"]}}');
  const input = lines.join('\n') + '\n';
  const r = same(['eval'], input);
  assert.equal(r.stdout.toString().split('\n')[0], '{"result":0.30000000000000004}');
  same(['eval'], Buffer.concat([Buffer.from('{"rule":{"cat":["'), Buffer.from([0xff, 0xfe]),
    Buffer.from('"]}}\n')]), 'eval with invalid UTF-8');
});

test('tcf: valid, invalid, and the batch form', () => {
  const strings = [
    'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA',
    'CQHwQAAQHwQAAAGABBENBOFgAP_gAAAAAAAAAAAAAAAA.YAAAAAAAAAAA',
    'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA.IBAgAAAAAAA',
    'not a tc string',
    'C',
    '',
  ];
  for (const s of strings) same(['tcf', s], '', `tcf ${JSON.stringify(s)}`);
  same(['tcf', '-'], strings.join('\n') + '\r\n');
});

test('validate: good bundles, every error of bad ones, unreadable files', () => {
  same(['validate', path.join(ROOT, 'demo-site', 'bundle.json')]);
  const bad = path.join(tmp, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({
    version: '',
    segments: [{ id: 'a', rule: { fo: 1 } }, { id: 'a', rule: { in_segment: ['b'] } }],
    actions: [{ id: 'x', slots: 'hero', propensity: 2 }],
    extra: 1,
  }));
  const r = same(['validate', bad]);
  assert.equal(r.code, 1);
  const syntax = path.join(tmp, 'syntax.json');
  fs.writeFileSync(syntax, '{"version": "1", "segments": [}');
  same(['validate', syntax]);
  same(['validate', path.join(tmp, 'does-not-exist.json')]);
  same(['simulate', '--bundle', bad], '{"t":1,"decide":["hero"]}\n');
});

test('command line errors: usage, unknown commands and arguments', () => {
  same([]);
  same(['--help']);
  same(['frobnicate']);
  same(['simulate']);
  same(['simulate', '--bundle']);
  same(['simulate', '--frob', 'x']);
  same(['validate']);
  same(['tcf']);
});
