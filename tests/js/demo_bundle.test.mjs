// The demo shop's bundle (demo-site/bundle.json) against the essays' examples: each scenario in
// demo-site/scenarios/*.jsonl is one visitor's events and control lines for `pz simulate`; every
// `decide` line carries the outcome the bundle's rules imply, as
// `"expect": {"segments": [sorted ids], "actions": {slot: action id or null}}`, worked out from
// the rules (see demo-site/README.md), not recorded from a run. The native CLI (PZ_BIN) must
// produce exactly those, and the wasm CLI the same bytes.
//
//   node --test tests/js/demo_bundle.test.mjs   (needs build/pz and build-wasm/pz_core.wasm)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PZ_BIN, PZ_WASM, PZ_WASM_BIN, ROOT } from './harness.mjs';
import { expandPage } from '../../demo-site/pages.mjs';

const BUNDLE = path.join(ROOT, 'demo-site', 'bundle.json');
const DIR = path.join(ROOT, 'demo-site', 'scenarios');

function simulate(bin, input) {
  const r = spawnSync(bin, ['simulate', '--bundle', BUNDLE], {
    input,
    env: { ...process.env, PZ_WASM },
    maxBuffer: 1 << 26,
  });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${bin} exited ${r.status}: ${r.stderr}`);
  return r.stdout.toString();
}

/** A scenario: the lines to simulate (without notes and expectations) and the expectations. */
function scenario(file) {
  const lines = fs
    .readFileSync(path.join(DIR, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  const expect = [];
  const input = lines.map(({ note, expect: e, ...line }) => {
    if (line.decide) {
      assert.ok(e, `${file}: decide at t=${line.t} has no "expect"`);
      expect.push({ t: line.t, slots: line.decide, ...e });
    }
    return JSON.stringify(line) + '\n';
  });
  return { input: input.join(''), expect };
}

const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.jsonl')).sort();

test('the scenarios exist: one per essay example', () => {
  for (const name of ['high_intent', 'cart_abandoner', 'high_value', 'at_risk', 'lifecycle']) {
    assert.ok(files.includes(name + '.jsonl'), name);
  }
});

for (const file of files) {
  test(`scenario ${file}: segments and decisions as the rules say`, () => {
    const { input, expect } = scenario(file);
    assert.ok(expect.length > 0);
    const out = simulate(PZ_BIN, input).trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(out.length, expect.length, `one output line per decide:\n${out.join('\n')}`);
    out.forEach((got, i) => {
      const want = expect[i];
      const at = `${file} t=${want.t}`;
      assert.equal(got.error, undefined, `${at}: ${got.error}`);
      assert.equal(got.t, want.t, at);
      assert.deepEqual(got.segments, want.segments, `${at}: segments`);
      assert.deepEqual(
        got.decisions.map((d) => d.slot),
        want.slots,
        `${at}: slots in the order asked`,
      );
      const actions = Object.fromEntries(got.decisions.map((d) => [d.slot, d.action]));
      assert.deepEqual(actions, want.actions, `${at}: actions`);
      for (const d of got.decisions) {
        if (d.action === null && d.slot !== 'recs') assert.notEqual(d.content, null, at);
      }
    });
  });
}

// ---- the shop's pages (demo-site/site/) against the bundle ----
const SITE = path.join(ROOT, 'demo-site', 'site');
const pages = (dir = SITE) =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? pages(p) : e.name.endsWith('.html') ? [p] : [];
  });
/** The file a site URL path serves (pz-server: index.html for directories), or null. */
const served = (url) => {
  const f = path.join(SITE, url.split(/[?#]/)[0]);
  const dir = fs.existsSync(f) && fs.statSync(f).isDirectory();
  return fs.existsSync(dir ? path.join(f, 'index.html') : f);
};

test('pages: the snippet region, the offer bar, slots the bundle knows, pz-slots, links', () => {
  const bundle = JSON.parse(fs.readFileSync(BUNDLE, 'utf8'));
  const used = new Set();
  const files = pages();
  assert.ok(files.length >= 9, files.join(' '));
  for (const f of files) {
    const rel = path.relative(SITE, f);
    const html = expandPage(fs.readFileSync(f, 'utf8'), '/' + rel.split(path.sep).join('/'));
    assert.equal(html.match(/<!-- pz:snippet --><!-- \/pz:snippet -->/g)?.length, 1, rel);
    assert.match(html, /data-pz-slot="offer_bar"/, rel);
    const slots = [...html.matchAll(/data-pz-slot="([^"]+)"/g)].map((m) => m[1]);
    for (const slot of slots) {
      assert.ok(slot in bundle.defaults, `${rel}: slot ${slot} has no default in the bundle`);
      used.add(slot);
    }
    // <meta name="pz-slots"> lists them, so that an edge worker decides them in one batch.
    const meta = html.match(/<meta name="pz-slots" content="([^"]*)"/);
    assert.deepEqual(meta && meta[1].split(', '), [...new Set(slots)], `${rel}: pz-slots`);
    for (const [, props] of html.matchAll(/data-pz-props='([^']*)'/g)) {
      const p = JSON.parse(props);
      assert.deepEqual(Object.keys(p).sort(), ['category', 'price', 'sku'], `${rel}: ${props}`);
    }
    for (const [, href] of html.matchAll(/href="(\/[^"]*)"/g)) {
      assert.ok(served(href), `${rel}: ${href}`);
    }
  }
  assert.deepEqual([...used].sort(), Object.keys(bundle.defaults).sort(), 'all slots on pages');
  // Links inside the bundle's content lead to pages of the shop.
  const hrefs = JSON.stringify(bundle).matchAll(/href(?:":"|=\\")(\/[^"\\]*)/g);
  let n = 0;
  for (const [, href] of hrefs) {
    assert.ok(served(href), `bundle content links to ${href}`);
    n++;
  }
  assert.ok(n >= 14, `${n} links checked`);
});

test('the wasm CLI prints the same bytes for every scenario', () => {
  for (const file of files) {
    const { input } = scenario(file);
    assert.equal(simulate(PZ_WASM_BIN, input), simulate(PZ_BIN, input), file);
  }
});
