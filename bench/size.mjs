#!/usr/bin/env node
// Sizes of what a site downloads, against the budgets. Builds nothing: run
// `node scripts/build-js.mjs` (and scripts/build-wasm.sh) first.
//
//   node bench/size.mjs                 a table: raw, gzip -9 and brotli -11 bytes of each part
//   node bench/size.mjs --json          the same as JSON
//   node bench/size.mjs --check-loader  also exit 1 when the minified loader exceeds 1 KB
//
// Parts: the loader stub (js/dist/pz-loader.min.js, pasted inline), the runtime
// (js/dist/pz.js, the script-tag build), the wasm core (env PZ_WASM, else js/dist/pz_core.wasm,
// else build-wasm/pz_core.wasm) and runtime + wasm. Budgets: loader <= 1024 bytes minified,
// runtime + wasm <= 40 KB brotli (target for the runtime alone: 8 KB brotli). It reports; only
// --check-loader can fail.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'js', 'dist');
const args = new Set(process.argv.slice(2));
const KB = 1024;
const LOADER_LIMIT = 1 * KB;
const TOTAL_BROTLI_LIMIT = 40 * KB;
const RUNTIME_BROTLI_TARGET = 8 * KB;

const wasmPath = process.env.PZ_WASM
  ? path.resolve(process.env.PZ_WASM)
  : ([path.join(DIST, 'pz_core.wasm'), path.join(ROOT, 'build-wasm', 'pz_core.wasm')].find((f) =>
      fs.existsSync(f),
    ) ?? path.join(DIST, 'pz_core.wasm'));

const read = (f) => (fs.existsSync(f) ? fs.readFileSync(f) : null);
const measure = (buf) =>
  buf && {
    raw: buf.length,
    gzip: zlib.gzipSync(buf, { level: 9 }).length,
    brotli: zlib.brotliCompressSync(buf, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length,
      },
    }).length,
  };

const loader = read(path.join(DIST, 'pz-loader.min.js'));
const runtime = read(path.join(DIST, 'pz.js'));
const wasm = read(wasmPath);
const parts = [
  {
    part: 'loader (pz-loader.min.js)',
    file: 'js/dist/pz-loader.min.js',
    ...measure(loader),
    budget: `raw <= ${LOADER_LIMIT}`,
    within: loader ? loader.length <= LOADER_LIMIT : null,
  },
  {
    part: 'runtime (pz.js)',
    file: 'js/dist/pz.js',
    ...measure(runtime),
    budget: `brotli <= ${RUNTIME_BROTLI_TARGET} (target)`,
    within: null,
  },
  {
    part: 'wasm (pz_core.wasm)',
    file: path.relative(ROOT, wasmPath),
    ...measure(wasm),
    budget: '',
    within: null,
  },
];
const [, r, w] = parts;
parts.push({
  part: 'runtime + wasm',
  file: '',
  ...(runtime && wasm
    ? { raw: r.raw + w.raw, gzip: r.gzip + w.gzip, brotli: r.brotli + w.brotli }
    : {}),
  budget: `brotli <= ${TOTAL_BROTLI_LIMIT}`,
  within: runtime && wasm ? r.brotli + w.brotli <= TOTAL_BROTLI_LIMIT : null,
});
if (runtime) r.within = r.brotli <= RUNTIME_BROTLI_TARGET;

if (args.has('--json')) {
  console.log(
    JSON.stringify(
      {
        parts,
        budgets: {
          loader_raw: LOADER_LIMIT,
          runtime_brotli_target: RUNTIME_BROTLI_TARGET,
          total_brotli: TOTAL_BROTLI_LIMIT,
        },
      },
      null,
      2,
    ),
  );
} else {
  const rows = [['part', 'raw', 'gzip -9', 'brotli -11', 'budget', 'ok']].concat(
    parts.map((p) =>
      [
        p.part,
        p.raw ?? 'missing',
        p.gzip ?? '',
        p.brotli ?? '',
        p.budget,
        p.within === null ? '' : p.within ? 'yes' : 'OVER',
      ].map(String),
    ),
  );
  const width = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) {
    console.log(
      row
        .map((c, i) => (i >= 1 && i <= 3 ? c.padStart(width[i]) : c.padEnd(width[i])))
        .join('  ')
        .trimEnd(),
    );
  }
  for (const p of parts) if (p.file && p.raw === undefined) console.log(`missing: ${p.file}`);
}
if (args.has('--check-loader') && (!loader || loader.length > LOADER_LIMIT)) {
  console.error(
    loader ? `the loader is ${loader.length} bytes, over ${LOADER_LIMIT}` : 'the loader is missing',
  );
  process.exitCode = 1;
}
