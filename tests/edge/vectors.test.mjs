// The shared vectors (tests/vectors/) through the core inside the edge worker: the worker (with
// PZ_TEST_ROUTES=1) runs the `pz simulate` / `pz explain` protocol on the same host module and
// static wasm import it decides pages with; its output must be the vector's expected lines and the
// native `pz` bytes, as tests/js/cli_parity.test.mjs checks for node. Vectors listed for the
// `edge` target in tests/vectors/exceptions.json are skipped (none are today).
//
//   node --test tests/edge/vectors.test.mjs   (needs build/pz, build-wasm/pz_core.wasm)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PZ_BIN, ROOT } from '../js/harness.mjs';
import { startWorkerd } from './harness.mjs';

const VECTORS = path.join(ROOT, 'tests', 'vectors');

function vectorFiles() {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.json') && e.name !== 'exceptions.json') out.push(p);
    }
  };
  walk(VECTORS);
  return out.sort();
}

const exceptions = JSON.parse(fs.readFileSync(path.join(VECTORS, 'exceptions.json'), 'utf8'))
  .exceptions;
const edgeSkipped = new Set(
  exceptions.filter((e) => e.vector && e.targets.includes('edge')).map((e) => e.vector),
);

let edge;
let tmp;
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-edge-vectors-'));
  edge = await startWorkerd({ bindings: { PZ_ORIGIN: '', PZ_SERVER: '', PZ_TEST_ROUTES: '1' } });
});
after(async () => {
  await edge?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function simulate(body) {
  const res = await fetch(edge.url + '/pz/_test/simulate', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return text;
}

function native(args, input) {
  const r = spawnSync(PZ_BIN, args, { input, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString();
}

test('every vector: simulate and explain in the worker print the expected lines and native bytes', async () => {
  const files = vectorFiles();
  assert.ok(files.length >= 15, `only ${files.length} vectors found`);
  let checked = 0;
  for (const file of files) {
    const rel = path.relative(VECTORS, file);
    if (edgeSkipped.has(rel)) continue;
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    const bundle = JSON.stringify(v.bundle);
    const input = v.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    const out = await simulate({ bundle, id: v.id, input });
    const want = v.expected.map((e) => JSON.stringify(e) + '\n').join('');
    assert.equal(out, want, `${rel}: output is not the vector's expected lines`);

    const bundlePath = path.join(tmp, rel.replaceAll('/', '_'));
    fs.writeFileSync(bundlePath, bundle);
    const args = ['--bundle', bundlePath, ...(v.id ? ['--id', v.id] : [])];
    assert.equal(out, native(['simulate', ...args], input), `${rel}: differs from native`);
    const explained = await simulate({ bundle, id: v.id, input, explain: true });
    assert.equal(explained, native(['explain', ...args], input), `${rel} (explain)`);
    ++checked;
  }
  assert.ok(checked >= 15);
});

test('a rejected bundle is reported, not run', async () => {
  const res = await fetch(edge.url + '/pz/_test/simulate', {
    method: 'POST',
    body: JSON.stringify({ bundle: '{"version": ""}', input: '{"t":1,"decide":["hero"]}\n' }),
  });
  assert.equal(res.status, 422);
  assert.match(await res.text(), /version/);
});
