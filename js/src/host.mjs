// The WebAssembly host: one small module over WebAssembly.instantiate that works in browsers,
// node and edge workers. It owns the instance of pz_core.wasm and speaks its C ABI (docs/abi.md):
// JSON in, JSON out, one result envelope {ok, value | error}; nothing throws across the boundary.

/** The ABI version this host speaks (pz_abi_version() of the module must return it). */
export const ABI_VERSION = 1;

/** Ops of pz_call (docs/abi.md). */
export const Op = Object.freeze({
  LOAD_BUNDLE: 1, SET_IDS: 2, INGEST: 3, EVALUATE: 4, IDENTIFY: 5, CONTEXT: 6, CONSENT: 7,
  DECIDE: 8, FEEDBACK: 9, SEGMENTS: 10, EXPORT: 11, MERGE: 12, ERASE: 13, PROFILE: 14, SYNC_REQUEST: 15,
  CLI_EVAL: 64, CLI_TCF: 65, CLI_VALIDATE: 66, SIM_INIT: 80, SIM_FEED: 81,
});

/** Return codes of pz_call. */
export const Rc = Object.freeze({ OK: 0, ERROR: 1, NOTHING: 2 });

/** A failure of the host itself (bad module, ABI mismatch, a trap): never a bad-input error. */
export class PzError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'PzError';
  }
}

const encoder = new TextEncoder();
export const decoder = new TextDecoder();
// The envelope of an ingest or evaluate that changed no segment: the common case (most events
// move no membership), answered without decoding and parsing it.
const UNCHANGED = encoder.encode('{"ok":true,"value":{"entered":[],"exited":[]}}');
const isUnchanged = (mem, at, len) => {
  if (len !== UNCHANGED.length) return false;
  for (let i = 0; i < len; i++) if (mem[at + i] !== UNCHANGED[i]) return false;
  return true;
};

// The other envelopes of those ops, {"ok":true,"value":{"entered":[ids],"exited":[ids]}}, read
// with one regular expression instead of JSON.parse: segment ids are 1 to 64 of [A-Za-z0-9_.:-]
// (the bundle compiler's rule), so each is the text between two quotes. Anything else (an error
// envelope, an unexpected byte) gives null and is parsed the general way.
const IDS = '((?:"[\\w.:-]{1,64}")(?:,"[\\w.:-]{1,64}")*)?';
const CHANGES =
  new RegExp(`^\\{"ok":true,"value":\\{"entered":\\[${IDS}\\],"exited":\\[${IDS}\\]\\}\\}$`);
const ids = (list) => (list ? list.slice(1, -1).split('","') : []);
/** @returns {{entered: string[], exited: string[]} | null} */
export function readChanges(out) {
  const m = CHANGES.exec(decoder.decode(out));
  return m && { entered: ids(m[1]), exited: ids(m[2]) };
}

/**
 * Instantiates the core.
 * @param {ArrayBuffer | ArrayBufferView | Response | Promise<Response> | WebAssembly.Module} source
 *   the module's bytes, a fetch Response (streamed compile when the runtime supports it), or an
 *   already compiled module (edge runtimes forbid compiling at run time).
 * @returns {Promise<Core>}
 */
export async function loadCore(source) {
  source = await source;
  const imports = {
    env: { emscripten_notify_memory_growth() {} },
    wasi_snapshot_preview1: {
      proc_exit(code) {
        throw new PzError(`the wasm core aborted (exit ${code})`);
      },
    },
  };
  let instance;
  if (source instanceof WebAssembly.Module) {
    instance = await WebAssembly.instantiate(source, imports);
  } else if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) throw new PzError(`cannot load the wasm core: HTTP ${source.status}`);
    if (typeof WebAssembly.instantiateStreaming === 'function' &&
        (source.headers.get('content-type') || '').startsWith('application/wasm')) {
      ({ instance } = await WebAssembly.instantiateStreaming(source, imports));
    } else {
      ({ instance } = await WebAssembly.instantiate(await source.arrayBuffer(), imports));
    }
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    ({ instance } = await WebAssembly.instantiate(source, imports));
  } else {
    throw new PzError('loadCore: expected bytes, a Response or a WebAssembly.Module');
  }
  return new Core(instance);
}

/** One instance of the core. Not safe for re-entrant use (JS is single-threaded anyway). */
export class Core {
  /** @param {WebAssembly.Instance} instance */
  constructor(instance) {
    const x = instance.exports;
    for (const name of ['memory', '_initialize', 'pz_abi_version', 'pz_alloc', 'pz_free', 'pz_call',
      'pz_engine_new', 'pz_sim_new', 'pz_release', 'pz_result_ptr', 'pz_result_len']) {
      if (!(name in x)) throw new PzError(`not a pz core module: export ${name} is missing`);
    }
    const version = x.pz_abi_version();
    if (version !== ABI_VERSION) {
      throw new PzError(`wasm core ABI version ${version}, this host speaks ${ABI_VERSION}`);
    }
    x._initialize();
    this.x = x;
    this.abiVersion = version;
    this.scratch = 0; // one reusable input buffer in the module's memory
    this.scratchSize = 0;
    this.u8 = new Uint8Array(x.memory.buffer); // the memory; renewed when it grows
    this.scratchView = null; // the input buffer's bytes
    this.outAt = 0; // the last call's result: its offset and length in the memory
    this.outLen = 0;
  }

  /** The memory's bytes (a view made stale by memory growth is detached: length 0). */
  bytes() {
    if (this.u8.length === 0) {
      this.u8 = new Uint8Array(this.x.memory.buffer);
      this.scratchView = null;
    }
    return this.u8;
  }

  /** Writes a and b (strings or bytes) into the module, runs pz_call, returns [rc, bytes]. */
  callRaw(handle, op, a = '', b = '', num = 0) {
    const rc = this.invoke(handle, op, a, b, num);
    return [rc, this.u8.subarray(this.outAt, this.outAt + this.outLen)];
  }

  /**
   * callRaw without the result view: returns rc and leaves the result's place in this.outAt /
   * this.outLen (valid until the next call), for the hot paths that look at a few bytes of it.
   */
  invoke(handle, op, a, b, num) {
    const x = this.x;
    // Strings are encoded straight into the module's memory (encodeInto): no copy in between.
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    const need = (typeof a === 'string' ? a.length * 3 : a.length) +
      (typeof b === 'string' ? b.length * 3 : b.length);
    if (need > this.scratchSize) {
      if (this.scratch) x.pz_free(this.scratch);
      const size = Math.max(need, 4096, this.scratchSize * 2);
      this.scratch = x.pz_alloc(size);
      if (!this.scratch) {
        this.scratchSize = 0;
        throw new PzError(`the wasm core cannot allocate ${size} bytes`);
      }
      this.scratchSize = size;
      this.scratchView = null;
    }
    // The input buffer's bytes. A view made stale by memory growth in any call since is
    // detached (length 0): made again.
    let view = this.scratchView;
    if (!view?.length) {
      view = this.scratchView = this.bytes().subarray(this.scratch, this.scratch + this.scratchSize);
    }
    const put = (v, at) => typeof v !== 'string' ? (view.set(v, at), v.length)
      : v.length && encoder.encodeInto(v, at ? view.subarray(at) : view).written;
    const aLen = put(a, 0);
    const bLen = put(b, aLen);
    const rc = x.pz_call(handle, op, this.scratch, aLen, this.scratch + aLen, bLen, num);
    this.outAt = x.pz_result_ptr();
    this.outLen = x.pz_result_len();
    this.bytes(); // pz_call may have grown the memory
    return rc;
  }

  /** Runs an engine op and returns its envelope {ok: true, value} | {ok: false, error}. */
  call(handle, op, input = '', num = 0) {
    const [, out] = this.callRaw(handle, op, input, '', num);
    return JSON.parse(decoder.decode(out));
  }

  /** @returns {Engine} a new engine (one visitor's profile, segments and decisions). */
  engine() {
    return new Engine(this, this.x.pz_engine_new());
  }
}

const json = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * One visitor's engine. Every method returns the core's envelope {ok: true, value} or
 * {ok: false, error} and never throws for bad input; `now` is ms since the epoch.
 */
export class Engine {
  constructor(core, handle) {
    this.core = core;
    this.handle = handle;
  }

  _call(op, input, now = 0) {
    return this.core.call(this.handle, op, input, now);
  }

  /** _call for the ops that answer {entered, exited}. */
  _changes(op, input, now = 0) {
    const core = this.core;
    core.invoke(this.handle, op, input, '', now);
    if (isUnchanged(core.u8, core.outAt, core.outLen)) {
      return { ok: true, value: { entered: [], exited: [] } };
    }
    const out = core.u8.subarray(core.outAt, core.outAt + core.outLen);
    const value = readChanges(out);
    if (value !== null) return { ok: true, value };
    return JSON.parse(decoder.decode(out));
  }

  /** Loads a bundle (JSON text or object); a rejected bundle keeps the previous one. */
  loadBundle(bundle) { return this._call(Op.LOAD_BUNDLE, json(bundle)); }
  /** Sets {anonymous_id, device_id}. */
  setIds(ids) { return this._call(Op.SET_IDS, json(ids)); }
  /** Ingests one event {type, t, id?, props?, page?} (its time is its t): {entered, exited}. */
  ingest(event) { return this._changes(Op.INGEST, json(event)); }
  /** Brings segments up to `now` (windows move with time): {entered, exited}. */
  evaluate(now) { return this._changes(Op.EVALUATE, '', now); }
  /** Sets the user id and merges traits: {entered, exited}. */
  identify(userId, traits, now) { return this._call(Op.IDENTIFY, json({ user_id: userId, traits }), now); }
  /** Sets the host context (device, locale, geo…). */
  context(context) { return this._call(Op.CONTEXT, json(context)); }
  /** Applies a consent object; value: the consent state {necessary, analytics, personalization, marketing, given}. */
  consent(consent, now) { return this._call(Op.CONSENT, json(consent), now); }
  /** Decides slots: value {segments, decisions: [{slot, action, content, why?}]}. */
  decide(slots, now, { page, context, why } = {}) {
    return this._call(Op.DECIDE, json({ slots, page, context, why: why ? true : undefined }), now);
  }
  /** Records feedback {action, outcome: impression|click|conversion|dismiss}. */
  feedback(action, outcome, now) { return this._call(Op.FEEDBACK, json({ action, outcome }), now); }
  /** The sorted segment ids the visitor is in. */
  segments() { return this._call(Op.SEGMENTS, ''); }
  /** The mergeable profile state (docs/sync.md). */
  exportState() { return this._call(Op.EXPORT, ''); }
  /** What the server lacks given its last cursor (a version vector or null): {delta, versions}
   * for POST /v1/sync (docs/server.md). */
  syncRequest(cursor) { return this._call(Op.SYNC_REQUEST, cursor == null ? '' : json(cursor)); }
  /** Merges a profile state (JSON text or object): {entered, exited}. */
  mergeState(state, now) { return this._call(Op.MERGE, json(state), now); }
  /** Erases the profile (records the erasure epoch): {entered, exited}. */
  erase(now) { return this._call(Op.ERASE, '', now); }
  /** The profile for a debug panel: ids, traits, metrics, segments, consent. */
  profile(now) { return this._call(Op.PROFILE, '', now); }

  free() { this.core.x.pz_release(this.handle); }
}
