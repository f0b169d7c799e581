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
// - With bundlePublicKeys, a bundle (fetched, stored or inline) reaches the core only after its
//   Ed25519 signature verified (docs/bundle.md "Signed bundles"); the stored copy keeps it.
// - Storage is written only while the consent state has personalization === true; before that
//   the profile lives in memory only (in opt-in mode nothing at all is written before consent).
//   Withdrawal removes every stored key, the engine erases the profile and new ids are used.
//
// With `endpoint` (a pz-server, docs/server.md; without it nothing is sent) and `writeKey`
// (options `collect`, `sync`, `retry`, `sendBeacon`, `setTimeout`/`clearTimeout`, `random`):
// - collect: every event made while analytics is granted is queued with the ids it was made
//   under and POSTed to /v1/collect in batches (transport.mjs: at least once, retries with
//   backoff, beacons on page hide). Events made without analytics consent are never queued, not
//   even for later. The queue is persisted (key "<storageKey>.q") only while personalization is
//   granted; withdrawing analytics drops it, withdrawing personalization removes the stored copy.
// - sync (personalization only): POST /v1/sync on start, after identify (which first POSTs
//   /v1/identify; a 409 is reported, then it syncs as the user anyway) and every sync.interval;
//   the answer is merged and its cursor stored with the profile. One sync at a time; failures
//   retry with backoff. A merged erasure (the server erased the profile) forgets the ids and the
//   queued events made before it; a merged consent withdrawal acts as a local one. A local
//   withdrawal sends one last sync (the erasure epoch and consent, nothing personal) as the old
//   id, so that the server and the visitor's other devices erase too.

import { loadCore } from '../host.mjs';
import { attachConsent } from './consent.mjs';
import { render, renderable } from './dom.mjs';
import { outbox, post, verdict } from './transport.mjs';
import { verifier } from '../signature.mjs';

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
  let ids = {}; // a: anonymous id, d: device id, u: user id (only while personalization is granted)
  let cs = {}; // the consent state
  let ep, sc, rc, setT, clrT; // endpoint, sync and retry options, timers
  let box; // the collect queue (with endpoint)
  let cur = null; // the server's cursor from the last sync, valid for the profile ids in ck
  let ck = [];
  let sT = 0; // the next sync (periodic or retry)
  let sN = 0; // failed syncs in a row
  let sNow, sNext, sTaken; // the sync in flight (has it taken the profile?), the one after it
  let allowed = false; // personalization consent: storage may be written
  let gpc = false;
  let segs = [];
  let seen = new Set(); // slot\0action impressions reported in this page view
  let url, ref; // the current page view's url and referrer
  let timer = 0;
  let bundleText = null;
  let bundleSig; // its signature (with bundlePublicKeys)
  let etag = null;
  let vk; // the bundle verifier (option bundlePublicKeys); undefined: no signature needed
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
  // The anonymous id is shared with an edge worker through a first-party cookie (option
  // idCookie, default "pz_id"; false: none), written only while storage is allowed.
  const cookieId = () => {
    const m = o.idCookie && doc && doc.cookie.match('(?:^|; )' + o.idCookie + '=([^;]*)');
    return m ? decodeURIComponent(m[1]) : null;
  };
  const setCookie = (v, age) => {
    try {
      doc.cookie = `${o.idCookie}=${v}; Path=/; Max-Age=${age}; SameSite=Lax${
        win.location.protocol === 'https:' ? '; Secure' : ''
      }`;
    } catch {}
  };
  function save() {
    clearTimeout(timer);
    timer = 0;
    if (allowed && o.idCookie && doc && cookieId() !== ids.a) {
      setCookie(encodeURIComponent(ids.a), 31536000);
    }
    if (allowed && engine) {
      write(key, {
        ...ids,
        c: cur || undefined,
        k: cur ? ck : undefined,
        s: val(engine.exportState()),
      });
      if (box) box.q().length ? write(key + '.q', box.q()) : drop(key + '.q');
    }
  }
  const saveBundle = () =>
    bundleText && write(key + '.b', { e: etag, b: bundleText, s: bundleSig });
  const dirty = () => {
    if (allowed && !timer) timer = setTimeout(safe(save), o.persistDelay ?? 100);
  };
  const drop = (k) => {
    try {
      if (store && store.getItem(k) != null) store.removeItem(k);
    } catch {}
  };
  function wipe() {
    clearTimeout(timer);
    timer = 0;
    if (cookieId() != null) setCookie('', 0);
    [key, key + '.b', key + '.q'].forEach(drop);
  }
  function newIds() {
    ids = { a: rid(), d: rid() };
    cur = null;
    ck = [];
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
    cs = state;
    if (!state.analytics && box) box.clear();
    if (state.personalization && !allowed) {
      allowed = true;
      saveBundle();
      save();
      sync();
    } else if (!state.personalization && allowed) {
      allowed = false;
      wipe(); // the engine erased the profile itself when personalization was withdrawn
      // The withdrawal (consent and erasure epoch, nothing personal) goes once to the server as
      // the old id, so that every replica erases too.
      if (sc) safe(() => post(o.fetch, ep + '/v1/sync', o.writeKey, syncBody(), rc.timeout).catch(report))();
      newIds();
      clrT(sT);
    }
    resync();
    emit('consent', state);
    return state;
  }

  // ---- bundle ----
  const load = (text, sig) => {
    const r = engine.loadBundle(text);
    if (!r.ok) report('bundle rejected: ' + r.error.trim());
    else {
      bundleText = typeof text === 'string' ? text : JSON.stringify(text);
      bundleSig = sig;
    }
    return r.ok;
  };
  /**
   * With bundlePublicKeys: does the bundle (its exact bytes, or JSON text) carry a good signature?
   * Checked before the core sees it; a failure is reported and the current bundle stays.
   */
  const signed = async (bytes, sig, from) => {
    try {
      if (typeof bytes !== 'string' && !(bytes instanceof Uint8Array))
        throw new Error('a signed bundle must be given as its JSON text (with bundleSignature)');
      await vk(bytes, sig);
      return true;
    } catch (e) {
      report(`bundle rejected: ${from}: ${(e && e.message) || e}`);
      return false;
    }
  };
  /** The bundle's request; If-None-Match with `tag`, the ETag of a bundle held. */
  const getBundle = (tag) =>
    o.fetch(o.bundleUrl, { headers: tag ? { 'If-None-Match': tag } : {} });
  /**
   * Fetches bundleUrl (If-None-Match); a failure or a rejected bundle keeps the current one.
   * `sent`: the request start() made before the core was ready, {tag, res}.
   */
  async function refresh(sent) {
    if (!o.bundleUrl) return false;
    try {
      let res = await (sent ? sent.res : getBundle(etag));
      // Asked with the stored bundle's ETag, which did not load after all: the whole bundle.
      if (res.status === 304 && sent && sent.tag !== (etag || null)) res = await getBundle(etag);
      if (res.status === 304) return true;
      if (!res.ok) throw new Error('HTTP ' + res.status);
      // The bundle held, sent whole (asked without its ETag: init's bundleResponse): kept as is.
      if (etag && res.headers.get('ETag') === etag) return true;
      let text, sig;
      if (vk) {
        // The signature covers the bytes as served: they are checked, then decoded unchanged.
        const bytes = new Uint8Array(await res.arrayBuffer());
        sig = res.headers.get('Pz-Signature') || undefined;
        if (!(await signed(bytes, sig, o.bundleUrl))) return false;
        text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
      } else text = await res.text();
      if (!load(text, sig)) return false;
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
  const ingest = (ev) => {
    segChange(val(engine.ingest(ev)));
    if (box && cs.analytics) box.push(ids.a, ids.u, ev);
  };

  // ---- sync (docs/server.md) ----
  /**
   * Syncs; while a sync is in flight, once more after it (unless it has not yet taken the
   * profile: then it is that one). Resolves true when an answer was merged.
   */
  const sync = () =>
    !sc
      ? Promise.resolve(false)
      : !sNow
        ? (sNow = syncOnce().finally(() => (sNow = null)))
        : sTaken
          ? (sNext ||= sNow.then(() => ((sNext = null), sync())))
          : sNow;
  /** A /v1/sync request as the profile id: the cursor is used only for the profile it came from. */
  const syncBody = (id = ids.u || ids.a) => ({
    id,
    ...val(engine.syncRequest(ck.includes(id) ? cur : null)),
  });
  async function syncOnce() {
    let req, res, wait, a;
    try {
      clrT(sT);
      sTaken = 0;
      req = await run(() => {
        sTaken = 1;
        a = ids.a;
        return allowed && syncBody();
      });
      if (!req) return false;
      try {
        res = await post(o.fetch, ep + '/v1/sync', o.writeKey, req, rc.timeout);
      } catch {}
      wait = verdict(res, sN, rc, o.random);
      if (wait === false) report('sync: HTTP ' + res.status);
      if (wait !== true) return false;
      const ans = await res.json();
      // A reset or withdrawal meanwhile started a new visitor: the answer is not theirs.
      return !!(await run(() => a === ids.a && merge(ans, req.id, req.delta.erased_at)));
    } catch (e) {
      report('sync: ' + ((e && e.message) || e));
      return false;
    } finally {
      sN = typeof wait === 'number' ? sN + 1 : 0;
      if (req && allowed) {
        const ms = typeof wait === 'number' ? wait : sc.interval;
        if (ms > 0) sT = setT(sync, ms);
      }
    }
  }
  /** Merges a sync answer; e0 is the erasure epoch the device had. */
  function merge(ans, id, e0) {
    segChange(val(engine.mergeState(ans.delta, now())));
    cur = ans.cursor;
    ck = [id, ans.id];
    const p = val(engine.profile(now()));
    if (p.consent.personalization !== allowed || p.consent.analytics !== cs.analytics) {
      consentState(p.consent); // withdrawn on another device
    } else if (p.erased_at > e0) {
      // The server erased the profile: forget the ids too, and events made before the erasure.
      if (box) box.clear(p.erased_at);
      newIds();
      resync();
    } else ids.u = p.user_id || undefined;
    save();
    return true;
  }
  /** Links the anonymous id to the user on the server, then syncs as the user. */
  async function link(a, u, n = 0) {
    let res;
    try {
      res = await post(o.fetch, ep + '/v1/identify', o.writeKey, { anonymous_id: a, user_id: u }, rc.timeout);
    } catch {}
    const wait = verdict(res, n, rc, o.random);
    if (a !== ids.a || u !== ids.u) return;
    if (typeof wait === 'number') return setT(() => link(a, u, n + 1), wait);
    if (!wait) report('identify: HTTP ' + res.status);
    sync();
  }

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
      const { decisions } = val(engine.decide(names, now(), { why: o.why }));
      for (const d of decisions) {
        // A slot on an element content may not go into (script, style, iframe, …: dom.mjs
        // `renderable`) shows nothing, so nothing is counted as shown there either.
        let mine = els.filter((e) => e.getAttribute('data-pz-slot') === d.slot && renderable(e));
        const painted = mine.length;
        // An edge worker filled these in the first paint (data-pz-decided="<action>", or ""
        // for the default): they keep what was painted, and what they show counts as shown.
        const edge = mine.find((e) => e.hasAttribute('data-pz-decided'));
        if (edge) {
          d.action = edge.getAttribute('data-pz-decided') || null;
          d.content = undefined;
          d.edge = true;
          for (const el of mine) {
            shown.set(el, d.action);
            // Honoured once: later decisions in this page view (after an add to cart, a
            // withdrawal) render here as anywhere else.
            el.removeAttribute('data-pz-decided');
          }
          mine = [];
        }
        for (const el of mine) {
          try {
            render(el, d.content);
            shown.set(el, d.action);
          } catch (e) {
            report(e);
          }
        }
        const k = d.slot + '\0' + d.action;
        if (d.action !== null && painted && !seen.has(k)) {
          seen.add(k);
          // An edge worker's action may be unknown to this bundle: then it is not counted.
          if (engine.feedback(d.action, 'impression', now()).ok) dirty();
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
    const loading = loadCore(o.wasm || o.fetch(o.wasmUrl));
    loading.catch(() => {}); // awaited below
    // The stored bundle, verified first when bundles are signed: only then is its ETag sent.
    const cached = read(key + '.b');
    const stored =
      !!(cached && cached.b) && (!vk || (await signed(cached.b, cached.s, 'the stored bundle')));
    // The bundle's request goes out now, beside the wasm's: the first decision waits for the
    // slower of the two, not for one after the other.
    // Or it went out before pz.js loaded: the page's own request for bundleUrl (bundleResponse).
    let sent = null;
    if (o.bundleUrl) {
      const tag = (stored && cached.e) || null;
      sent = o.bundleResponse
        ? { tag: null, res: Promise.resolve(o.bundleResponse) }
        : { tag, res: new Promise((r) => r(getBundle(tag))) };
      sent.res.catch(() => {}); // a failure is reported by refresh(), once awaited there
    }
    const core = await loading;
    engine = core.engine();
    const saved = read(key);
    const edgeId = cookieId();
    if (saved && saved.a) {
      ids = { a: saved.a, d: saved.d, u: saved.u };
      cur = saved.c ?? null;
      ck = saved.k || [];
      val(engine.setIds({ anonymous_id: ids.a, device_id: ids.d }));
    } else if (edgeId) {
      // The edge worker met this visitor first (it sets the cookie only with consent).
      newIds();
      ids.a = edgeId;
      val(engine.setIds({ anonymous_id: ids.a }));
    } else newIds();
    let ok =
      !!o.bundle &&
      (!vk || (await signed(o.bundle, o.bundleSignature, 'the inline bundle'))) &&
      load(o.bundle, o.bundleSignature);
    if (stored && load(cached.b, cached.s)) {
      ok = true;
      etag = cached.e;
    }
    if (await refresh(sent)) ok = true;
    if (!ok) throw new Error('no bundle');
    // A stored state or a context the core rejects is reported and left out, never fatal.
    const soft = (r) => (r.ok ? r.value : report(r.error));
    if (saved && saved.s) segChange(soft(engine.mergeState(saved.s, now())));
    if (o.context) soft(engine.context(o.context));
    const state = (cs = val(engine.profile(now())).consent);
    allowed = state.personalization;
    if (allowed) {
      if (box && state.analytics) box.load(read(key + '.q'));
      saveBundle();
      save();
    } else {
      ids.u = undefined;
      wipe();
    }
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
      o.idCookie = o.idCookie === undefined ? 'pz_id' : o.idCookie;
      setT = o.setTimeout || ((f, ms) => win.setTimeout(f, ms));
      clrT = o.clearTimeout || ((t) => win.clearTimeout(t));
      o.random = o.random || Math.random;
      if (o.bundlePublicKeys != null) vk = verifier(o.bundlePublicKeys, 'bundlePublicKeys');
      rc = { base: 1000, max: 60000, timeout: 10000, ...o.retry };
      ep = o.endpoint && String(o.endpoint).replace(/\/+$/, '');
      const opt = (v, d) => ep && v !== false && { ...d, ...v };
      sc = opt(o.sync, { interval: 60000 });
      const cc = opt(o.collect, { batchSize: 20, flushInterval: 5000, maxQueue: 1000 });
      if (cc)
        box = outbox({
          ...cc,
          url: ep + '/v1/collect',
          key: o.writeKey,
          retry: rc,
          fetch: o.fetch,
          random: o.random,
          setTimeout: setT,
          clearTimeout: clrT,
          beacon: (u, s) =>
            (o.sendBeacon || ((...a) => win.navigator?.sendBeacon?.(...a)))(
              u,
              new win.Blob([s], { type: 'text/plain' }),
            ),
          changed: dirty,
          report,
        });
      try {
        store = o.storage !== undefined ? o.storage : win.localStorage;
      } catch {}
      for (const f of pre.splice(0)) f();
      start().then(
        (ok) => {
          go(ok);
          sync();
          if (box) box.flush();
        },
        (e) => {
          report(e);
          unhide();
          go(false);
        },
      );
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
        const hide = () => {
          if (box) box.hide();
          save();
        };
        win.addEventListener('pagehide', safe(hide));
        if (box)
          doc.addEventListener(
            'visibilitychange',
            safe(() => (doc.visibilityState === 'hidden' ? hide() : box.shown())),
          );
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
      return run(() => {
        segChange(val(engine.identify(userId, traits, t)));
        if (!allowed || typeof userId !== 'string') return;
        ids.u = userId;
        if (sc) link(ids.a, userId);
      });
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

    sync: method(sync),
  });
  if (options) api.init(options);
  return api;
}

export default createRuntime;
