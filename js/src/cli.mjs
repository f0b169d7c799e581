// The `pz` CLI protocols over the wasm core (used by js/bin/pz.mjs; kept out of host.mjs so that
// the browser runtime does not carry them). Outputs are the exact bytes the native `pz` prints.
import { Op, Rc, decoder } from './host.mjs';

/** `pz eval` of one line (string or bytes): the output line, without newline. */
export function evalLine(core, line, lineNo) {
  return decoder.decode(core.callRaw(0, Op.CLI_EVAL, line, '', lineNo)[1]);
}

/** `pz tcf`: {code, out} with out the JSON text (no newline). */
export function tcf(core, tcString) {
  const [rc, out] = core.callRaw(0, Op.CLI_TCF, tcString);
  return { code: rc === Rc.OK ? 0 : 1, out: decoder.decode(out) };
}

/** `pz validate`: {code, out}. */
export function validate(core, bundleBytes, fileName) {
  const [rc, out] = core.callRaw(0, Op.CLI_VALIDATE, bundleBytes, fileName);
  return { code: rc === Rc.OK ? 0 : 1, out: decoder.decode(out) };
}

/** `pz simulate` / `pz explain`: one visitor, lines in, output bytes out. */
export class Simulator {
  constructor(core) {
    this.core = core;
    this.handle = core.x.pz_sim_new();
  }

  /** Loads the bundle: {ok: true} or {ok: false, error: the `pz validate`-style error text}. */
  init(bundleBytes, anonymousId = 'sim', explain = false) {
    const [rc, out] = this.core.callRaw(this.handle, Op.SIM_INIT, bundleBytes, anonymousId,
      explain ? 1 : 0);
    return rc === Rc.OK ? { ok: true } : { ok: false, error: decoder.decode(out) };
  }

  /** One input line (bytes or string): the output bytes (a copy), or null when it prints nothing. */
  feed(line, lineNo) {
    const [rc, out] = this.core.callRaw(this.handle, Op.SIM_FEED, line, '', lineNo);
    return rc === Rc.NOTHING ? null : out.slice();
  }

  free() {
    this.core.x.pz_release(this.handle);
  }
}
