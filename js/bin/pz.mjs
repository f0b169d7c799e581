#!/usr/bin/env node
// `node js/bin/pz.mjs`: the `pz` CLI through the wasm core. Same subcommands, same bytes on
// stdout/stderr and the same exit codes as the native `pz` (server/cli/pz_main.cpp); the
// protocols themselves run in the core, this file only moves bytes.
//
// The module: $PZ_WASM, else js/dist/pz_core.wasm, else build-wasm/pz_core.wasm. (A long stream
// through `simulate` runs faster on PZ_WASM=js/dist/pz_core_speed.wasm, the -O2 build; a single
// command starts faster on this one.)
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCore } from '../src/host.mjs';
import { Simulator, evalLine, tcf, validate } from '../src/cli.mjs';

const USAGE =
  'usage: pz <command> [args]\n' +
  '  eval                                stdin JSONL {"rule","data"} -> stdout JSONL results\n' +
  '  simulate --bundle FILE [--id ID]    one visitor: stdin JSONL events/controls -> decisions\n' +
  '  explain --bundle FILE [--id ID]     as simulate, printing why each slot got its content\n' +
  '  validate FILE                       check a bundle; exit 1 with every error\n' +
  '  tcf STRING | tcf -                  decode an IAB TCF v2.2 TC string (- : one per stdin line)\n' +
  '  keygen                              a new Ed25519 key pair for signed bundles (JSON)\n' +
  '  sign --key FILE BUNDLE [-o SIG]     sign a bundle: writes BUNDLE.sig (-o -: stdout only)\n' +
  "  verify --pubkey KEY BUNDLE [SIG]    check a bundle's signature (SIG default: BUNDLE.sig)\n";

const NL = Buffer.from('\n');

function wasmPath() {
  if (process.env.PZ_WASM) return process.env.PZ_WASM;
  const here = dirname(fileURLToPath(import.meta.url));
  const dist = join(here, '..', 'dist', 'pz_core.wasm');
  return existsSync(dist) ? dist : join(here, '..', '..', 'build-wasm', 'pz_core.wasm');
}

// Calls fn(lineBytes) for each stdin line as std::getline splits them: on '\n', the newline not
// included, a last line without newline included when non-empty.
async function forEachStdinLine(fn) {
  let pending = Buffer.alloc(0);
  for await (const chunk of process.stdin) {
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      fn(buf.subarray(start, nl));
      start = nl + 1;
    }
    pending = Buffer.from(buf.subarray(start));
  }
  if (pending.length) fn(pending);
}

// Output is collected and written in large pieces (stdout may be a pipe).
const out = [];
let outBytes = 0;
function write(bytes) {
  out.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), NL);
  outBytes += bytes.length + 1;
  if (outBytes > 1 << 16) flush();
}
function flush() {
  if (out.length) process.stdout.write(Buffer.concat(out));
  out.length = 0;
  outBytes = 0;
}

function readFile(path) {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

const isBlank = (line) => line.every((c) => c === 0x20 || c === 0x09 || c === 0x0d);

async function runEval(core) {
  let lineNo = 0;
  await forEachStdinLine((line) => {
    ++lineNo;
    if (isBlank(line)) return;
    write(Buffer.from(evalLine(core, line, lineNo)));
  });
  return 0;
}

async function runSimulate(core, args, explain) {
  let bundlePath = '';
  let id = 'sim';
  for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--bundle' && i + 1 < args.length) {
      bundlePath = args[++i];
    } else if (args[i] === '--id' && i + 1 < args.length) {
      id = args[++i];
    } else {
      process.stderr.write(`pz simulate: unexpected argument ${args[i]}\n${USAGE}`);
      return 2;
    }
  }
  if (!bundlePath) {
    process.stderr.write('pz simulate: --bundle FILE is required\n');
    return 2;
  }
  const bundle = readFile(bundlePath);
  if (bundle === null) {
    process.stderr.write(`pz simulate: cannot read ${bundlePath}\n`);
    return 2;
  }
  const sim = new Simulator(core);
  const init = sim.init(bundle, id, explain);
  if (!init.ok) {
    process.stderr.write(`pz simulate: ${bundlePath}: invalid bundle\n${init.error}`);
    return 1;
  }
  let lineNo = 0;
  await forEachStdinLine((line) => {
    const res = sim.feed(line, ++lineNo);
    if (res !== null) write(res);
  });
  return 0;
}

function runValidate(core, args) {
  if (args.length !== 1) {
    process.stderr.write('usage: pz validate FILE\n');
    return 2;
  }
  const bundle = readFile(args[0]);
  if (bundle === null) {
    process.stderr.write(`pz validate: cannot read ${args[0]}\n`);
    return 2;
  }
  const { code, out: text } = validate(core, bundle, args[0]);
  process.stdout.write(text);
  return code;
}

async function runTcf(core, args) {
  if (args.length !== 1) {
    process.stderr.write('usage: pz tcf STRING\n');
    return 2;
  }
  if (args[0] === '-') {
    await forEachStdinLine((line) => {
      if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      write(Buffer.from(tcf(core, line).out));
    });
    return 0;
  }
  const { code, out: text } = tcf(core, args[0]);
  write(Buffer.from(text));
  return code;
}

async function main(argv) {
  if (argv.length < 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  const [cmd, ...args] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (['keygen', 'sign', 'verify'].includes(cmd)) {
    // Signed bundles need libsodium: the native pz has them (docs/bundle.md "Signed bundles").
    process.stderr.write(`pz: ${cmd} is not supported in the wasm CLI; use the native pz\n`);
    return 2;
  }
  if (!['eval', 'simulate', 'explain', 'validate', 'tcf'].includes(cmd)) {
    process.stderr.write(`pz: unknown command ${cmd}\n${USAGE}`);
    return 2;
  }
  const path = wasmPath();
  const bytes = readFile(path);
  if (bytes === null) {
    process.stderr.write(`pz: cannot read the wasm core ${path} (run scripts/build-wasm.sh)\n`);
    return 2;
  }
  const core = await loadCore(bytes);
  switch (cmd) {
    case 'eval': return runEval(core);
    case 'simulate': return runSimulate(core, args, false);
    case 'explain': return runSimulate(core, args, true);
    case 'validate': return runValidate(core, args);
    default: return runTcf(core, args);
  }
}

process.exitCode = await main(process.argv.slice(2));
flush();
