// The browser runtime: the wasm core (through ../host.mjs) plus what a page needs around it —
// events and autocapture, slots, consent adapters, consent-gated storage, the bundle with ETag
// caching. `createRuntime(options)` returns the `pz` API; js/src/runtime/browser.mjs installs it
// as window.pz and replays the loader stub's queue. See js/types/pz.d.ts for the public types.
//
// Invariants:
// - Nothing throws into the page: every public method catches and reports (console.warn and the
//   'error' listeners). Promises returned by the API never reject.
// - Calls are applied in the order they were made; an event's time and page are taken when it is
//   made, even if the core is still loading (for calls made before init(): when init() runs,
//   since the clock is an init option).
// - Storage is written only while the consent state has personalization === true; before that
//   the profile lives in memory only (in opt-in mode nothing at all is written before consent).
//   Withdrawal removes every stored key, the engine erases the profile and new ids are used.

import { loadCore } from '../host.mjs';
import { attachConsent } from './consent.mjs';
import { render } from './dom.mjs';

/** A random id (UUID when the platform has one, else 128 random bits in hex). */
const rid = () => {
  const c = globalThis.crypto;
  try {
    return c.randomUUID();
  } catch {
    return [...c.getRandomValues(new Uint8Array(16))]
      .map((b) => (b + 256).toString(16).slice(1))
      .join('');
  }
};

/**
 * Creates a runtime. Without options it waits for `init(options)` (the loader stub's
 * `pz('init', {...})`); with options it starts at once.
 * @param {import('../../types/pz').PzOptions} [options]
 * @returns {import('../../types/pz').Pz}
 */
export function createRuntime(options) {
  /** @type {any} */
  let o;
  let win, doc, now, store, key, engine, started;
  let ids = {};
  let allowed = false; // personalization consent: storage may be written
  let gpc = false;
  let segs = [];
  let seen = new Set(); // slot\0action impressions reported in this page view
  let url, ref; // the current page view's url and referrer
  let timer = 0;
  let bundleText = null;
  let etag = null;
  /** @type {WeakMap<Element, string | null>} the action each slot element shows */
  const shown = new WeakMap();
  const on = { decision: [], segment: [], consent: [], error: [] };

  let go;
  const ready = new Promise((r) => (go = r));
  let tail = Promise.resolve();

  const emit = (type, v) => {
    for (const f of on[type]) {
      try {
        f(v);
      } catch (e) {
        type === 'error' ? console.warn('pz:', e) : report(e);
      }
    }
  };
  function report(e) {
    const msg = String((e && e.message) || e);
    console.warn('pz: ' + msg);
    emit('error', msg);
  }
  /** The value of a core envelope, or throws its error. */
  const val = (r) => {
    if (!r.ok) throw new Error(r.error.trim());
    return r.value;
  };
  /** Runs fn after every earlier call once the core is ready; never rejects. */
  const run = (fn) =>
    (tail = tail
      .then(() => ready)
      .then((ok) => (ok ? fn() : undefined))
      .catch(report));
  /** Wraps a public method so that nothing throws into the page. */
  const safe =
    (fn) =>
    (...a) => {
      try {
        return fn(...a);
      } catch (e) {
        report(e);
      }
    };
  /** A method called before init() waits for it (its time and page are then taken at init). */
  const pre = [];
  const method = (fn) =>
    safe((...a) => (started ? fn(...a) : new Promise((r) => pre.push(() => r(safe(fn)(...a))))));

  // ---- storage (only while personalization is granted) ----
  const read = (k) => {
    try {
      return JSON.parse(store.getItem(k));
    } catch {
      return null;
    }
  };
  const write = (k, v) => {
    try {
      if (allowed && store) store.setItem(k, JSON.stringify(v));
    } catch (e) {
      report(e);
    }
  };
  function save() {
    clearTimeout(timer);
    timer = 0;
    if (allowed && engine) write(key, { a: ids.a, d: ids.d, s: val(engine.exportState()) });
  }
  const saveBundle = () => bundleText && write(key + '.b', { e: etag, b: bundleText });
  const dirty = () => {
    if (allowed && !timer) timer = setTimeout(safe(save), o.persistDelay ?? 100);
  };
  function wipe() {
    clearTimeout(timer);
    timer = 0;
    for (const k of [key, key + '.b']) {
      try {
        if (store && store.getItem(k) != null) store.removeItem(k);
      } catch {}
    }
  }
  function newIds() {
    ids = { a: rid(), d: rid() };
    val(engine.setIds({ anonymous_id: ids.a, device_id: ids.d }));
  }

  // ---- segments and consent ----
  const segChange = (r) => {
    if (r && (r.entered.length || r.exited.length)) {
      segs = segs.filter((s) => !r.exited.includes(s)).concat(r.entered);
      emit('segment', r);
    }
    dirty();
  };
  const resync = () => {
    const cur = val(engine.segments());
    segChange({
      entered: cur.filter((s) => !segs.includes(s)),
      exited: segs.filter((s) => !cur.includes(s)),
    });
  };
  function consentState(state) {
    if (state.personalization && !allowed) {
      allowed = true;
      saveBundle();
      save();
    } else if (!state.personalization && allowed) {
      allowed = false;
      wipe(); // the engine erased the profile itself when personalization was withdrawn
      newIds();
    }
    resync();
    emit('consent', state);
    return state;
  }

  // ---- bundle ----
  const load = (text) => {
    const r = engine.loadBundle(text);
    if (!r.ok) report('bundle rejected: ' + r.error.trim());
    else bundleText = typeof text === 'string' ? text : JSON.stringify(text);
    return r.ok;
  };
  /** Fetches bundleUrl (If-None-Match); a failure or a rejected bundle keeps the current one. */
  async function refresh() {
    if (!o.bundleUrl) return false;
    try {
      const res = await o.fetch(o.bundleUrl, { headers: etag ? { 'If-None-Match': etag } : {} });
      if (res.status === 304) return true;
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const text = await res.text();
      if (!load(text)) return false;
      etag = res.headers.get('ETag');
      saveBundle();
      return true;
    } catch (e) {
      report('bundle fetch failed: ' + ((e && e.message) || e));
      return false;
    }
  }

  // ---- events ----
  const pageInfo = () => {
    const l = win.location || {};
    return {
      url: l.href,
      path: l.pathname,
      referrer: ref ?? (doc && doc.referrer),
      title: doc && doc.title,
    };
  };
  const event = (type, props, page) => ({
    type,
    t: now(),
    id: rid(),
    props: props || {},
    page: page || pageInfo(),
  });
  const ingest = (ev) => segChange(val(engine.ingest(ev)));

  // ---- slots ----
  const unhide = () => doc && doc.getElementById('pz-af')?.remove();
  const domReady = () =>
    new Promise((r) =>
      !doc || doc.readyState !== 'loading'
        ? r()
        : doc.addEventListener('DOMContentLoaded', r, { once: true }),
    );
  const slotEls = () => (doc ? [...doc.querySelectorAll('[data-pz-slot]')] : []);
  /** Decides `names` (default: every slot on the page) and renders them into their elements. */
  async function decideSlots(names) {
    await domReady();
    try {
      const els = slotEls();
      names = names || [...new Set(els.map((e) => e.getAttribute('data-pz-slot')))];
      if (!names.length) return [];
      const { decisions } = val(engine.decide(names, now()));
      for (const d of decisions) {
        const mine = els.filter((e) => e.getAttribute('data-pz-slot') === d.slot);
        for (const el of mine) {
          try {
            render(el, d.content);
            shown.set(el, d.action);
          } catch (e) {
            report(e);
          }
        }
        const k = d.slot + '\0' + d.action;
        if (d.action !== null && mine.length && !seen.has(k)) {
          seen.add(k);
          val(engine.feedback(d.action, 'impression', now()));
          dirty();
        }
        emit('decision', d);
      }
      return decisions;
    } finally {
      unhide();
    }
  }

  // ---- start ----
  async function start() {
    const core = await loadCore(o.wasm || o.fetch(o.wasmUrl));
    engine = core.engine();
    const saved = read(key);
    ids = saved && saved.a ? { a: saved.a, d: saved.d } : {};
    if (ids.a) val(engine.setIds({ anonymous_id: ids.a, device_id: ids.d }));
    else newIds();
    const cached = read(key + '.b');
    let ok = !!o.bundle && load(o.bundle);
    if (cached && cached.b && load(cached.b)) {
      ok = true;
      etag = cached.e;
    }
    if (await refresh()) ok = true;
    if (!ok) throw new Error('no bundle');
    // A stored state or a context the core rejects is reported and left out, never fatal.
    const soft = (r) => (r.ok ? r.value : report(r.error));
    if (saved && saved.s) segChange(soft(engine.mergeState(saved.s, now())));
    if (o.context) soft(engine.context(o.context));
    const state = val(engine.profile(now())).consent;
    allowed = state.personalization;
    if (allowed) {
      saveBundle();
      save();
    } else if (saved || cached) wipe();
    emit('consent', state);
    return true;
  }

  // ---- the API ----
  /** @type {any} */
  const api = safe((cmd, ...args) => {
    if (typeof cmd !== 'string' || !/^[a-z]/i.test(cmd) || typeof api[cmd] !== 'function') {
      throw new Error('unknown command ' + cmd);
    }
    return api[cmd](...args);
  });

  Object.assign(api, {
    init: safe((opts) => {
      if (started) throw new Error('init: already initialised');
      started = 1;
      o = { ...opts };
      win = o.window || globalThis;
      doc = win.document;
      now = o.now || Date.now;
      o.fetch = o.fetch || ((...a) => win.fetch(...a));
      key = o.storageKey || 'pz';
      try {
        store = o.storage !== undefined ? o.storage : win.localStorage;
      } catch {}
      for (const f of pre.splice(0)) f();
      start().then(go, (e) => {
        report(e);
        unhide();
        go(false);
      });
      gpc = attachConsent(win, o.consentAdapters, (c) => api.consent(c));
      const ac = o.autocapture === false ? {} : { pageViews: true, clicks: true, ...o.autocapture };
      if (doc) {
        doc.addEventListener(
          'click',
          (e) => {
            try {
              const t = e.target;
              if (!t || !t.closest) return;
              const s = t.closest('[data-pz-slot]');
              const a = s && shown.get(s);
              if (a) api.feedback(a, 'click');
              const x = ac.clicks && t.closest('[data-pz-event]');
              if (x) {
                let props;
                const raw = x.getAttribute('data-pz-props');
                if (raw) {
                  try {
                    props = JSON.parse(raw);
                    if (!props || typeof props !== 'object' || Array.isArray(props)) throw 0;
                  } catch {
                    props = undefined;
                    console.warn('pz: ignoring data-pz-props that is not a JSON object: ' + raw);
                  }
                }
                api.track(x.getAttribute('data-pz-event'), props);
              }
            } catch (err) {
              report(err);
            }
          },
          true,
        );
        win.addEventListener('pagehide', safe(save));
      }
      if (ac.pageViews && win.history) {
        const nav = () => win.location.href !== url && api.page();
        for (const m of ['pushState', 'replaceState']) {
          const f = win.history[m];
          win.history[m] = function (...a) {
            const r = f.apply(this, a);
            safe(nav)();
            return r;
          };
        }
        win.addEventListener('popstate', safe(nav));
        api.page();
      } else {
        run(() => decideSlots());
      }
    }),

    track: method((type, props) => {
      if (typeof type !== 'string' || !type)
        throw new Error('track: the event type must be a non-empty string');
      const ev = event(type, props);
      return run(() => ingest(ev));
    }),

    page: method((props) => {
      const l = win.location || {};
      ref = url === undefined ? doc && doc.referrer : url;
      url = l.href;
      const ev = event('page_view', props);
      return run(() => {
        seen = new Set();
        ingest(ev);
        return decideSlots();
      });
    }),

    identify: method((userId, traits) => {
      const t = now();
      return run(() => segChange(val(engine.identify(userId, traits, t))));
    }),

    consent: method((state) => {
      const t = now();
      return run(() => consentState(val(engine.consent(gpc ? { ...state, gpc: true } : state, t))));
    }),

    decide: method((slots) => run(() => decideSlots(slots == null ? slots : [].concat(slots)))),

    feedback: method((action, outcome) => {
      const t = now();
      return run(() => {
        val(engine.feedback(action, outcome, t));
        dirty();
      });
    }),

    on: safe((type, fn) => {
      if (!on[type] || typeof fn !== 'function') throw new Error('on: unknown event ' + type);
      on[type].push(fn);
      return () => (on[type] = on[type].filter((f) => f !== fn));
    }),

    profile: method(() => run(() => val(engine.profile(now())))),

    reset: method(() =>
      run(() => {
        val(engine.erase(now()));
        wipe();
        newIds();
        resync();
        if (allowed) save();
      }),
    ),

    refresh: method(() => run(refresh)),

    flush: method(() => run(save)),
  });
  if (options) api.init(options);
  return api;
}

export default createRuntime;
