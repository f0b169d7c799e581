#!/usr/bin/env node
// Where the wasm core's bytes go: its code by part of the engine, its data, and what each part
// costs compressed. Builds nothing; needs a module that keeps its function names:
//
//   PZ_WASM_NAMES=1 PZ_WASM_BUILD_DIR=build-wasm-names scripts/build-wasm.sh
//   node bench/wasm_size.mjs [build-wasm-names/pz_core.wasm] [--top N] [--json]
//
// (--profiling-funcs: the same code as the shipped module plus a name section.) Every function
// body is attributed to one part by its demangled name (the PARTS rules below, first match wins;
// a template instantiated for a part counts for the part, e.g. std::sort of sync components is
// "sync state"). Brotli per part compresses that part's function bodies alone, so the column does
// not add up to the whole module's brotli size (shared context is lost); the share of the raw
// code is the better guide, and the module's own brotli size is printed below the table.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a)) ??
  path.join(ROOT, 'build-wasm-names', 'pz_core.wasm');
const top = Number(args[args.indexOf('--top') + 1]) || 0;
const asJson = args.includes('--json');

// Part of the engine, by function name. Order matters: the first rule that matches wins.
const PARTS = [
  ['JSON parser (simdjson)', /simdjson/],
  ['TCF consent strings', /tcf|Tcf|BitReader|RangeSection|PublisherRestr|MergeRanges|Base64Url|ValidIdentifiers/],
  ['sync state (CRDT: import, merge, export)', /merge|normalize|Reader|export_state|import_state|import_versions|export_versions|Component|ProfileState|LwwRegister|Hlc|lww_max|add_series|series_value|CanonicalWriter|VersionVector|delta\(|put_buckets/],
  ['bundle + rule compiler', /compile_bundle|Compiler|RuleCompiler|BundleError|resolve_segment|parse_window|format_errors|Bundle::|SegmentDef|MetricDef|ActionDef|Experiment|RuleRef|Program::|Holdout|SlotDefault/],
  ['rule evaluation (JsonLogic)', /RuleEvaluator|evaluate|loose_equal|strict_equal|less_than|var_lookup|js_truthy|truthy|to_number|get_property|walk_path|ArgList|to_string_js|js_in|affix|semver|SemVer|bucket_of|murmur3/],
  ['JavaScript numbers (parse, format)', /digits_value|round_exact|increment_last_digit|parse_float_value|append_js_number|js_string_to_number|js_parse_float|jsnum|radix_pow2|decimal_value|scan_decimal|prefix_value|js_to_/],
  ['deterministic math (Thompson, sigmoid)', /det_|DetRandom/],
  ['engine (profile, segments, decisions, why)', /pz::Engine|Decision|Exposure|CandidateTrace|pz::Series|add_bucket|Profile|parse_event|pz::Event|consent|Consent|Window/],
  ['ABI + CLI protocol (pz_call, simulate)', /pz_|engine_op|ok_changes|abi|cli::|Simulat|add_handle|lookup\(|string_array|optional_object|to_time|\(anonymous namespace\)::(fail|ok)/],
  ['JSON values + text (Value, writer, UTF-8)', /JsonParser|Converter|append_json|append_value|pz::Value|to_json|unescape|wtf8|utf8|Utf8|utf16|js_substr|AppendCodePoint|AppendEscaped|parse_array_index|js_length|append_path|is_identifier|kind_name|code_name|describe|Decode\(|Token|pz::(\(anonymous namespace\)::)?append_to_string/],
  ['std::sort instantiations', /__sort|__insertion_sort|__partial_sort|__floyd|__sift|__pop_heap|__nth|__introsort|__partition|__stable_sort|__merge/],
  ['libc++ strings', /^(?!pz::)(\S+ )?(std::__2::)?(basic_string|char_traits|__str_find|to_chars|__to_chars|__itoa)|^(char|bool)\S* std::__2::(__itoa|operator)/],
  ['libc++ other (vectors, maps, shared_ptr)', /^(void )?std::|^bool std::|^unsigned (int|long) std::|^byn\$mgfn/],
  ['malloc (emmalloc)', /^(malloc|free|realloc|calloc|aligned_alloc|posix_memalign|emmalloc|claim_more_memory|attempt_allocate|sbrk|operator new|operator delete|emscripten_builtin)/],
  ['libc (memory, strings, math, stdio)', /^(mem|str|__mem|__str|frexp|fmod|scalbn|sqrt|floor|ceil|trunc|round|exp|log|pow|copysign|abort|__|_start|_initialize|stack|\$)/],
];

function readModule(buf) {
  let p = 8;
  const leb = () => {
    let r = 0;
    let s = 0;
    let b;
    do {
      b = buf[p++];
      r += (b & 0x7f) * 2 ** s;
      s += 7;
    } while (b & 0x80);
    return r;
  };
  let imports = 0;
  const bodies = [];
  const names = new Map();
  const sections = [];
  while (p < buf.length) {
    const id = buf[p++];
    const size = leb();
    const start = p;
    let name = '';
    if (id === 0) {
      const n = leb();
      name = buf.subarray(p, p + n).toString();
      p += n;
    }
    sections.push({ id, name, size });
    if (id === 2) {
      for (let i = 0, n = leb(); i < n; i++) {
        p += leb();
        p += leb();
        const kind = buf[p++];
        if (kind === 0) {
          leb();
          imports++;
        } else if (kind === 1) {
          p++;
          if (buf[p++] & 1) leb();
          leb();
        } else if (kind === 2) {
          const flags = buf[p++];
          leb();
          if (flags & 1) leb();
        } else {
          p += 2;
        }
      }
    } else if (id === 10) {
      for (let i = 0, n = leb(); i < n; i++) {
        const s = leb();
        bodies.push(buf.subarray(p, p + s));
        p += s;
      }
    } else if (id === 0 && name === 'name') {
      while (p < start + size) {
        const sub = buf[p++];
        const len = leb();
        const end = p + len;
        if (sub === 1) {
          for (let i = 0, n = leb(); i < n; i++) {
            const index = leb();
            const l = leb();
            names.set(index, buf.subarray(p, p + l).toString());
            p += l;
          }
        }
        p = end;
      }
    }
    p = start + size;
  }
  return { imports, bodies, names, sections };
}

const buf = fs.readFileSync(file);
const { imports, bodies, names, sections } = readModule(buf);
if (names.size === 0) {
  console.error(`wasm_size: ${file} has no function names; build it with PZ_WASM_NAMES=1 (see the header)`);
  process.exit(2);
}
const brotli = (b) =>
  zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const parts = new Map(PARTS.map(([label]) => [label, { bytes: 0, functions: 0, chunks: [], biggest: [] }]));
parts.set('other', { bytes: 0, functions: 0, chunks: [], biggest: [] });
let codeBytes = 0;
bodies.forEach((body, i) => {
  const name = names.get(i + imports) ?? `function ${i + imports}`;
  const label = (PARTS.find(([, re]) => re.test(name)) ?? ['other'])[0];
  const part = parts.get(label);
  part.bytes += body.length;
  part.functions += 1;
  part.chunks.push(body);
  part.biggest.push([body.length, name]);
  codeBytes += body.length;
});
const dataBytes = sections.filter((s) => s.id === 11).reduce((a, s) => a + s.size, 0);
const rows = [...parts.entries()]
  .filter(([, v]) => v.functions > 0)
  .map(([label, v]) => ({
    part: label,
    functions: v.functions,
    code_bytes: v.bytes,
    share: v.bytes / codeBytes,
    brotli_alone: brotli(Buffer.concat(v.chunks)),
    biggest: v.biggest.sort((a, b) => b[0] - a[0]).slice(0, top).map(([s, n]) => ({ bytes: s, name: n })),
  }))
  .sort((a, b) => b.code_bytes - a.code_bytes);
const shipped = process.env.PZ_WASM ?? path.join(ROOT, 'build-wasm', 'pz_core.wasm');
const result = {
  file: path.relative(ROOT, file) || file,
  functions: bodies.length,
  code_bytes: codeBytes,
  data_bytes: dataBytes,
  code_brotli: brotli(Buffer.concat(bodies)),
  rows,
};
if (asJson) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(`${result.file}: ${bodies.length} functions, code ${codeBytes} bytes (brotli ${result.code_brotli}), data ${dataBytes} bytes`);
  console.log(`${'part'.padEnd(44)} ${'functions'.padStart(9)} ${'code'.padStart(7)} ${'share'.padStart(6)} ${'brotli alone'.padStart(12)}`);
  for (const r of rows) {
    console.log(`${r.part.padEnd(44)} ${String(r.functions).padStart(9)} ${String(r.code_bytes).padStart(7)} ` +
      `${(100 * r.share).toFixed(1).padStart(5)}% ${String(r.brotli_alone).padStart(12)}`);
    for (const b of r.biggest) console.log(`    ${String(b.bytes).padStart(6)}  ${b.name.slice(0, 110)}`);
  }
  if (fs.existsSync(shipped)) {
    const s = fs.readFileSync(shipped);
    console.log(`shipped module (${path.relative(ROOT, shipped)}): ${s.length} bytes, brotli ${brotli(s)}`);
  }
}
