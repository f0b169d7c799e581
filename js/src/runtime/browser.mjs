// The script-tag entry (js/dist/pz.js, an IIFE): installs the runtime as window.pz and replays the
// calls the loader stub (js/src/snippet.js) queued in pz.q, in order. The wasm defaults to
// pz_core.wasm next to this script.
import { createRuntime } from './index.mjs';

const w = window;
const stub = w.pz;
if (!stub || !stub.track) {
  const src = document.currentScript && document.currentScript.src;
  const pz = createRuntime();
  const init = pz.init;
  pz.init = (o) => init({ wasmUrl: src && new URL('pz_core.wasm', src).href, ...o });
  w.pz = pz;
  const q = (stub && stub.q) || [];
  if (stub) stub.q = { push: (a) => pz(...a) }; // late calls through an old reference to the stub
  for (const a of q) pz(...a);
}
