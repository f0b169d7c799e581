#!/usr/bin/env node
// Checks a linked pz_core.wasm:
//   1. every import is listed in wasm/allowed-imports.txt (or the file given as 2nd argument);
//   2. the ABI exports exist;
//   3. instantiated with stub imports that throw when called, `_initialize` runs,
//      pz_abi_version() returns 1, pz_call runs the core (`pz eval` of 0.1+0.2 prints the native bytes,
//      a bad handle is an error result, not a trap),
//      and pz_alloc/pz_free work, including an allocation that makes the memory grow.
//      The one stub that does not throw is env.emscripten_notify_memory_growth: it is a
//      notification the module must send after growing its memory, so it is counted instead.
//
// Usage: node wasm/check-imports.mjs build-wasm/pz_core.wasm [allowed-imports.txt]
// Exits 0 when everything holds, 1 otherwise (and 2 on bad usage).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ABI_VERSION = 1;
const REQUIRED_EXPORTS = {
  memory: 'memory',
  _initialize: 'function',
  pz_abi_version: 'function',
  pz_alloc: 'function',
  pz_free: 'function',
  pz_engine_new: 'function',
  pz_sim_new: 'function',
  pz_release: 'function',
  pz_call: 'function',
  pz_result_ptr: 'function',
  pz_result_len: 'function',
};
const GROWTH_NOTIFICATION = 'env.emscripten_notify_memory_growth';

const [wasmPath, allowedPath = join(dirname(fileURLToPath(import.meta.url)), 'allowed-imports.txt')] =
  process.argv.slice(2);
if (!wasmPath) {
  console.error('usage: node check-imports.mjs MODULE.wasm [ALLOWED_IMPORTS.txt]');
  process.exit(2);
}

const failures = [];
const fail = (msg) => failures.push(msg);

const allowed = new Set(
  readFileSync(allowedPath, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line.length > 0),
);

const bytes = readFileSync(wasmPath);
const module = new WebAssembly.Module(bytes);
const imports = WebAssembly.Module.imports(module);
const exports = WebAssembly.Module.exports(module);

console.log(`${wasmPath}: ${bytes.length} bytes, ${imports.length} imports, ${exports.length} exports`);
for (const imp of imports) {
  const key = `${imp.module}.${imp.name}`;
  const ok = allowed.has(key);
  console.log(`  import ${key} (${imp.kind})${ok ? '' : '  <-- NOT ALLOWED'}`);
  if (!ok) fail(`import ${key} (${imp.kind}) is not in ${allowedPath}`);
}

const exportKinds = new Map(exports.map((e) => [e.name, e.kind]));
for (const [name, kind] of Object.entries(REQUIRED_EXPORTS)) {
  if (exportKinds.get(name) !== kind) fail(`missing export ${name} (${kind})`);
}

if (failures.length === 0) {
  let growthNotifications = 0;
  const importObject = {};
  for (const imp of imports) {
    const key = `${imp.module}.${imp.name}`;
    if (imp.kind !== 'function') {
      fail(`cannot stub non-function import ${key} (${imp.kind})`);
      continue;
    }
    importObject[imp.module] ??= {};
    importObject[imp.module][imp.name] =
      key === GROWTH_NOTIFICATION
        ? () => { growthNotifications += 1; }
        : (...args) => { throw new Error(`unexpected call to import ${key}(${args.join(', ')})`); };
  }

  const check = (what, fn) => {
    try {
      fn();
    } catch (e) {
      fail(`${what}: ${e && e.message ? e.message : e}`);
    }
  };

  if (failures.length === 0) {
    check('instantiate + _initialize', () => {
      const { exports: api } = new WebAssembly.Instance(module, importObject);
      api._initialize();

      const version = api.pz_abi_version();
      console.log(`  pz_abi_version() = ${version}`);
      if (version !== ABI_VERSION) fail(`pz_abi_version() returned ${version}, expected ${ABI_VERSION}`);

      check('pz_call', () => {
        const result = () =>
          Buffer.from(api.memory.buffer, api.pz_result_ptr(), api.pz_result_len()).toString('utf8');
        const line = Buffer.from('{"rule":{"+":[0.1,0.2]},"data":null}');
        const p = api.pz_alloc(line.length);
        new Uint8Array(api.memory.buffer, p, line.length).set(line);
        const rc = api.pz_call(0, 64, p, line.length, 0, 0, 1);
        api.pz_free(p);
        const out = result();
        console.log(`  pz_call(eval 0.1+0.2) = ${rc} ${out}`);
        if (rc !== 0 || out !== '{"result":0.30000000000000004}') fail(`pz_call eval printed ${out}`);
        const bad = api.pz_call(12345, 3, 0, 0, 0, 0, 0);
        if (bad !== 1 || !result().includes('unknown handle')) fail(`bad handle gave ${bad} ${result()}`);
      });

      check('pz_alloc/pz_free', () => {
        const p = api.pz_alloc(64);
        if (p === 0 || p % 8 !== 0) throw new Error(`pz_alloc(64) returned ${p}`);
        new Uint8Array(api.memory.buffer, p, 64).fill(0xab);
        api.pz_free(p);
        api.pz_free(0);

        const before = api.memory.buffer.byteLength;
        const bigSize = before + (1 << 20); // cannot fit without growing
        const big = api.pz_alloc(bigSize);
        if (big === 0) throw new Error(`pz_alloc(${bigSize}) returned 0: memory growth does not work`);
        const after = api.memory.buffer.byteLength;
        new Uint8Array(api.memory.buffer, big, bigSize).fill(1);
        api.pz_free(big);
        if (after <= before || growthNotifications === 0) {
          throw new Error(`memory did not grow as expected (${before} -> ${after} bytes, ` +
                          `${growthNotifications} growth notifications)`);
        }
        console.log(`  pz_alloc/pz_free ok; memory grew ${before} -> ${after} bytes`);
      });
    });
  }
}

if (failures.length > 0) {
  for (const f of failures) console.error(`FAIL: ${f}`);
  process.exit(1);
}
console.log('wasm module check: OK');
