#!/usr/bin/env node
// Builds the browser runtime with esbuild into js/dist/:
//   pz-loader.min.js  the loader stub (js/src/snippet.js), minified, to paste inline into <head>
//   pz.js             the runtime as an IIFE for a <script> tag (installs window.pz), minified
//   pz.mjs            the runtime as an ES module exporting createRuntime(options), minified
//   pz_core.wasm      the core, copied from env PZ_WASM or build-wasm/pz_core.wasm
//   pz_core_speed.wasm  the -O2 build for long-running node hosts, copied from env PZ_WASM_SPEED
//                     or build-wasm/pz_core_speed.wasm when it exists (the browser never loads it)
//   *.br, *.gz        pz.js, pz.mjs and pz_core.wasm precompressed (brotli -11, gzip -9), for a
//                     server that sends them to clients that take the encoding (pz-server
//                     --static does)
// Usage: node scripts/build-js.mjs   (no network; prints the sizes it wrote)
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'js', 'src');
const DIST = path.join(ROOT, 'js', 'dist');
const WASM = process.env.PZ_WASM
  ? path.resolve(process.env.PZ_WASM)
  : path.join(ROOT, 'build-wasm', 'pz_core.wasm');
const WASM_SPEED = process.env.PZ_WASM_SPEED
  ? path.resolve(process.env.PZ_WASM_SPEED)
  : path.join(ROOT, 'build-wasm', 'pz_core_speed.wasm');
const LOADER_LIMIT = 1024;

fs.mkdirSync(DIST, { recursive: true });
const common = {
  bundle: true,
  minify: true,
  target: ['es2020'],
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
};

// The loader is pasted inline, so it must run in any browser: ES5 syntax, no bundling needed.
const loader = await esbuild.transform(fs.readFileSync(path.join(SRC, 'snippet.js'), 'utf8'), {
  minify: true,
  target: 'es5',
  legalComments: 'none',
});
fs.writeFileSync(path.join(DIST, 'pz-loader.min.js'), loader.code.trim() + '\n');

await esbuild.build({
  ...common,
  entryPoints: [path.join(SRC, 'runtime', 'browser.mjs')],
  format: 'iife',
  outfile: path.join(DIST, 'pz.js'),
});
await esbuild.build({
  ...common,
  entryPoints: [path.join(SRC, 'runtime', 'index.mjs')],
  format: 'esm',
  outfile: path.join(DIST, 'pz.mjs'),
});

let wasmNote = 'missing';
if (fs.existsSync(WASM)) {
  fs.copyFileSync(WASM, path.join(DIST, 'pz_core.wasm'));
  wasmNote = `${fs.statSync(WASM).size} bytes from ${path.relative(ROOT, WASM) || WASM}`;
} else {
  console.warn(
    `build-js: ${WASM} not found (build it with scripts/build-wasm.sh or set PZ_WASM); ` +
      'js/dist/pz_core.wasm not written',
  );
}

const speedDist = path.join(DIST, 'pz_core_speed.wasm');
if (fs.existsSync(WASM_SPEED)) {
  fs.copyFileSync(WASM_SPEED, speedDist);
  console.log(`build-js: js/dist/pz_core_speed.wasm ${fs.statSync(WASM_SPEED).size} bytes`);
} else {
  fs.rmSync(speedDist, { force: true }); // never a stale one beside a fresh pz_core.wasm
}

// Precompressed copies beside the files a page loads; stale ones never outlive their file.
for (const f of ['pz.js', 'pz.mjs', 'pz_core.wasm']) {
  const file = path.join(DIST, f);
  for (const ext of ['.br', '.gz']) fs.rmSync(file + ext, { force: true });
  if (!fs.existsSync(file)) continue;
  const bytes = fs.readFileSync(file);
  const br = zlib.brotliCompressSync(bytes, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
  fs.writeFileSync(file + '.br', br);
  fs.writeFileSync(file + '.gz', zlib.gzipSync(bytes, { level: 9 }));
}

const size = (f) => fs.statSync(path.join(DIST, f)).size;
const loaderSize = size('pz-loader.min.js');
console.log(`build-js: js/dist/pz-loader.min.js ${loaderSize} bytes (limit ${LOADER_LIMIT})`);
console.log(
  `build-js: js/dist/pz.js ${size('pz.js')} bytes, js/dist/pz.mjs ${size('pz.mjs')} bytes`,
);
console.log(`build-js: js/dist/pz_core.wasm ${wasmNote}`);
if (loaderSize > LOADER_LIMIT) {
  console.error(`build-js: the loader is ${loaderSize} bytes, over the ${LOADER_LIMIT}-byte limit`);
  process.exitCode = 1;
}
