#!/usr/bin/env node
// Builds the demo shop into demo-site/dist/ (gitignored), ready for
// `pz-server --static demo-site/dist`:
// - every file of demo-site/site/ is copied; each HTML page gets its site-wide parts
//   (`<!-- pz:include header|footer -->`, demo-site/pages.mjs); in each page the region between
//   `<!-- pz:snippet -->` and `<!-- /pz:snippet -->` (empty in the committed pages) gets the
//   inline snippet: the loader stub (js/dist/pz-loader.min.js, pointed at /assets/pz/pz.js by
//   its data-pz-src attribute) and the site's init (demo-site/snippet-init.js, minified);
// - js/dist/pz.js and js/dist/pz_core.wasm go to dist/assets/pz/ (not /pz/: an edge worker in
//   front of the shop answers every /pz/* path itself, edge-worker/README.md).
// Stamping replaces whatever is between the markers, so running it again gives the same files.
// Usage: node scripts/build-js.mjs && node demo-site/build.mjs [--out DIR]   (no network)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { expandPage } from './pages.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const SITE = path.join(HERE, 'site');
const JS_DIST = path.join(ROOT, 'js', 'dist');
const arg = process.argv.indexOf('--out');
const OUT = path.resolve(arg > 0 ? process.argv[arg + 1] : path.join(HERE, 'dist'));
const STAMP = '.pz-demo-build'; // marks a directory this script made (and may empty)
const MARKERS = /<!-- pz:snippet -->[\s\S]*?<!-- \/pz:snippet -->/g;

function fail(msg) {
  console.error('demo-site/build: ' + msg);
  process.exit(1);
}

const need = (f) => {
  const p = path.join(JS_DIST, f);
  if (!fs.existsSync(p)) fail(`${path.relative(ROOT, p)} is missing: run node scripts/build-js.mjs`);
  return p;
};
const loader = fs.readFileSync(need('pz-loader.min.js'), 'utf8').trim();
const init = (
  await esbuild.transform(fs.readFileSync(path.join(HERE, 'snippet-init.js'), 'utf8'), {
    minify: true,
    target: 'es5',
    legalComments: 'none',
  })
).code.trim();
for (const [name, code] of [['loader', loader], ['init', init]]) {
  if (/<\/script|<!--/i.test(code)) fail(`the ${name} cannot be inlined: it contains </script or <!--`);
}
const snippet = (indent) =>
  [
    '<!-- pz:snippet -->',
    `<script data-pz-src="/assets/pz/pz.js">${loader}</script>`,
    `<script>${init}</script>`,
    '<!-- /pz:snippet -->',
  ].join('\n' + indent);

if (fs.existsSync(OUT)) {
  if (fs.readdirSync(OUT).length && !fs.existsSync(path.join(OUT, STAMP))) {
    fail(`${OUT} exists and was not made by this script: not touching it`);
  }
  fs.rmSync(OUT, { recursive: true, force: true });
}
fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(path.join(OUT, STAMP), 'made by demo-site/build.mjs; removed by its next run\n');

let pages = 0;
let files = 0;
const copy = (from, to) => {
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isDirectory()) {
      fs.mkdirSync(dst, { recursive: true });
      copy(src, dst);
    } else if (e.name.endsWith('.html')) {
      const url = '/' + path.relative(SITE, src).split(path.sep).join('/');
      const html = expandPage(fs.readFileSync(src, 'utf8'), url);
      let n = 0;
      const out = html.replace(MARKERS, (_, offset) => {
        n++;
        const line = html.slice(html.lastIndexOf('\n', offset) + 1, offset);
        return snippet(/^\s*$/.test(line) ? line : '');
      });
      if (n !== 1) fail(`${path.relative(ROOT, src)}: expected one pz:snippet region, found ${n}`);
      fs.writeFileSync(dst, out);
      pages++;
    } else {
      fs.copyFileSync(src, dst);
      files++;
    }
  }
};
copy(SITE, OUT);
const RUNTIME = path.join(OUT, 'assets', 'pz');
fs.mkdirSync(RUNTIME, { recursive: true });
for (const f of ['pz.js', 'pz_core.wasm']) {
  fs.copyFileSync(need(f), path.join(RUNTIME, f));
  // The precompressed copies scripts/build-js.mjs writes, which pz-server --static sends.
  for (const ext of ['.br', '.gz']) {
    const src = path.join(JS_DIST, f + ext);
    if (fs.existsSync(src)) fs.copyFileSync(src, path.join(RUNTIME, f + ext));
  }
}

const rel = path.relative(process.cwd(), OUT) || '.';
console.log(`demo-site/build: ${pages} pages stamped, ${files} assets and the runtime in ${rel}/`);
console.log(
  `serve: ./build/pz-server --port 8080 --data /tmp/pz-demo-data --static ${rel} ` +
    '--bundle demo-site/bundle.json',
);
