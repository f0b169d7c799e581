#!/usr/bin/env node
// Sizes of what a site downloads, against the budgets. Builds nothing: run
// `node scripts/build-js.mjs` (and scripts/build-wasm.sh) first.
//
//   node bench/size.mjs                 a table: raw, gzip -9 and brotli -11 bytes of each part
//   node bench/size.mjs --json          the same as JSON
//   node bench/size.mjs --check-loader  also exit 1 when the minified loader exceeds 1 KB
//   node bench/size.mjs --no-peers      without the peers' table
//
// Parts: the loader stub (js/dist/pz-loader.min.js, pasted inline), the runtime
// (js/dist/pz.js, the script-tag build), the wasm core (env PZ_WASM, else js/dist/pz_core.wasm,
// else build-wasm/pz_core.wasm) and runtime + wasm. Budgets: loader <= 1024 bytes minified,
// runtime + wasm <= 40 KB brotli (target for the runtime alone: 8 KB brotli). It reports; only
// --check-loader can fail.
//
// Peers, next to ours: the browser bundle each peer SDK publishes on npm, as installed in
// node_modules (exact versions pinned in package.json): GrowthBook, LaunchDarkly, Optimizely and
// Segment. For each, the first of its candidate files (package.json "unpkg" / "jsdelivr", then
// the script-tag build it ships) that exists and is self-contained (esbuild finds no import in
// it) is measured as shipped; when none is, its browser entry is bundled by esbuild (--bundle
// --minify, platform browser) and the table says so. Not counted: what a peer loads later (its
// feature flags / datafile / settings JSON, Segment's lazily loaded destination chunks).
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

// Candidate files per peer, best first (paths inside the package).
const PEERS = [
  { name: 'GrowthBook', pkg: '@growthbook/growthbook', files: ['dist/bundles/index.min.js'] },
  { name: 'LaunchDarkly', pkg: '@launchdarkly/js-client-sdk', files: ['dist/index.js'] },
  {
    name: 'Optimizely',
    pkg: '@optimizely/optimizely-sdk',
    files: ['dist/optimizely.browser.umd.min.js'],
  },
  { name: 'Segment', pkg: '@segment/analytics-next', files: ['dist/umd/index.js'] },
];

async function peerSizes() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return { error: 'esbuild is not installed (npm ci)' };
  }
  const bundle = (options) =>
    esbuild.buildSync({
      bundle: true,
      write: false,
      metafile: true,
      platform: 'browser',
      format: 'esm',
      logLevel: 'silent',
      absWorkingDir: ROOT,
      ...options,
    });
  const rows = [];
  for (const peer of PEERS) {
    const dir = path.join(ROOT, 'node_modules', peer.pkg);
    const manifest = path.join(dir, 'package.json');
    if (!fs.existsSync(manifest)) {
      rows.push({ peer: peer.name, package: peer.pkg, missing: true });
      continue;
    }
    const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    const candidates = [pkg.unpkg, pkg.jsdelivr, ...peer.files].filter(
      (f) => typeof f === 'string',
    );
    let row = null;
    for (const rel of candidates) {
      const file = path.join(dir, rel);
      if (!fs.existsSync(file)) continue;
      // Self-contained: bundling it pulls in no other module.
      let inputs = Infinity;
      try {
        inputs = Object.keys(bundle({ entryPoints: [file] }).metafile.inputs).length;
      } catch {
        // an import esbuild cannot resolve: not self-contained
      }
      if (inputs !== 1) continue;
      row = {
        ...measure(fs.readFileSync(file)),
        file: path.relative(ROOT, file),
        how: 'as shipped',
      };
      break;
    }
    if (!row) {
      try {
        const out = bundle({ entryPoints: [peer.pkg], minify: true, conditions: ['browser'] });
        row = {
          ...measure(Buffer.from(out.outputFiles[0].contents)),
          file: `${peer.pkg} (browser entry)`,
          how: 'esbuild --bundle --minify',
        };
      } catch (e) {
        // Reported in the table, never fatal: the peers are context, not a budget.
        row = { file: `${peer.pkg} (browser entry)`, how: `esbuild failed: ${e.message}` };
      }
    }
    rows.push({ peer: peer.name, package: peer.pkg, version: pkg.version, ...row });
  }
  return { rows };
}

const ours = parts[parts.length - 1]; // runtime + wasm: what a page downloads besides the loader
const peers = args.has('--no-peers') ? null : await peerSizes();
if (peers?.rows && ours.brotli) {
  for (const p of peers.rows) if (p.brotli) p.brotli_vs_ours = +(p.brotli / ours.brotli).toFixed(2);
}

if (args.has('--json')) {
  console.log(
    JSON.stringify(
      {
        parts,
        ...(peers ? { peers } : {}),
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
  if (peers?.error) console.log(`peers: ${peers.error}`);
  if (peers?.rows) {
    console.log('');
    console.log(
      'peers: the browser bundle each SDK publishes on npm (first load only; nothing loaded later)',
    );
    const rows = [
      ['peer', 'version', 'raw', 'gzip -9', 'brotli -11', 'brotli / ours', 'file', 'how'],
    ].concat(
      peers.rows.map((p) =>
        (p.missing
          ? [p.peer, '', 'missing', '', '', '', `node_modules/${p.package} (npm ci)`, '']
          : [
              p.peer,
              p.version,
              p.raw ?? 'n/a',
              p.gzip ?? '',
              p.brotli ?? '',
              p.brotli_vs_ours === undefined ? '' : `${p.brotli_vs_ours}x`,
              p.file,
              p.how,
            ]
        ).map(String),
      ),
      [
        [
          'ours: runtime + wasm',
          '',
          ours.raw ?? 'missing',
          ours.gzip ?? '',
          ours.brotli ?? '',
          ours.brotli ? '1x' : '',
          'js/dist/pz.js + ' + parts[2].file,
          '',
        ].map(String),
      ],
    );
    const width = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    for (const row of rows) {
      console.log(
        row
          .map((c, i) => (i >= 2 && i <= 5 ? c.padStart(width[i]) : c.padEnd(width[i])))
          .join('  ')
          .trimEnd(),
      );
    }
  }
}
if (args.has('--check-loader') && (!loader || loader.length > LOADER_LIMIT)) {
  console.error(
    loader ? `the loader is ${loader.length} bytes, over ${LOADER_LIMIT}` : 'the loader is missing',
  );
  process.exitCode = 1;
}
