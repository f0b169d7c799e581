// Public types of the pz browser runtime (js/src/runtime/index.mjs; built to js/dist/pz.js and
// js/dist/pz.mjs). Every method catches its own errors: nothing throws into the page, promises
// never reject (they resolve to undefined on failure), and failures are reported through
// console.warn and on('error').

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The page of an event (taken when the event is made). */
export interface PageInfo {
  url: string;
  path: string;
  /** The document's referrer for the first view, the previous URL for SPA views. */
  referrer: string;
  title: string;
}

/** What the runtime feeds to the core for every event. */
export interface PzEvent {
  type: string;
  /** ms since the epoch, from options.now. */
  t: number;
  /** A random message id (deduplication). */
  id: string;
  props: Record<string, Json>;
  page: PageInfo;
}

/**
 * Decision content: a string (→ textContent) or an object (fields, html, attrs, template
 * values).
 */
export type Content =
  | string
  | number
  | null
  | ({
      /** HTML, inserted after allowlist sanitizing. */
      html?: string;
      /**
       * Attributes for the slot element: class, alt, title, aria-*, data-* (not data-pz-*),
       * href/src (http(s) or relative URLs only).
       */
      attrs?: Record<string, string | number | boolean | null>;
    } & { [field: string]: Json | undefined });

/** One slot's decision. */
export interface Decision {
  slot: string;
  /** The action shown, or null for the slot's default. */
  action: string | null;
  /** Undefined when an edge worker painted the slot (`edge`). */
  content: Content;
  /**
   * With the init option `why: true` (a debug panel): why this action won — the rules that
   * passed or failed, scores, caps hit (docs/decisions.md).
   */
  why?: Json;
  /**
   * True when an edge worker already filled the slot in the first paint (the element carries
   * data-pz-decided="<action>", or "" for the default): the page keeps what was painted and
   * `action` says what.
   */
  edge?: true;
}

/** The consent state (docs/consent.md). */
export interface ConsentState {
  necessary: true;
  analytics: boolean;
  personalization: boolean;
  marketing: boolean;
  /** A consent signal has been received (else the bundle's consent.mode decides). */
  given: boolean;
}

/** A consent object for pz.consent(): purpose booleans and/or sources. */
export interface ConsentInput {
  analytics?: boolean;
  personalization?: boolean;
  marketing?: boolean;
  necessary?: true;
  /** An IAB TCF v2.2 TC string. */
  tcf?: string;
  /** Google Consent Mode v2 states. */
  consent_mode?: Partial<
    Record<
      | 'ad_storage'
      | 'ad_user_data'
      | 'ad_personalization'
      | 'analytics_storage'
      | 'personalization_storage'
      | 'functionality_storage'
      | 'security_storage',
      'granted' | 'denied'
    >
  >;
  /** Global Privacy Control. */
  gpc?: boolean;
}

/** Segment membership changes. */
export interface SegmentChange {
  entered: string[];
  exited: string[];
}

/** A window of a metric or event count (docs/profile.md). */
export interface Series {
  total: number;
  last: number | null;
  hourly: [number, number][];
  daily: [number, number][];
}

/** Exposure and feedback counters of one action. */
export interface Exposure {
  impressions: number;
  clicks: number;
  conversions: number;
  dismisses: number;
  day: number;
  day_impressions: number;
  session: number;
  session_impressions: number;
  last_dismiss: number | null;
}

/** The profile for a debug panel (the core's PROFILE op). */
export interface Profile {
  anonymous_id: string;
  user_id: string | null;
  device_id: string | null;
  first_seen: number | null;
  last_seen: number | null;
  sessions: number;
  erased_at: number | null;
  traits: Record<string, Json>;
  /** By metric id. */
  metrics: Record<string, Series>;
  /** By event type, for each type the bundle's count/since rules name. */
  counts: Record<string, Series>;
  /** By action id. */
  exposures: Record<string, Exposure>;
  segments: string[];
  consent: ConsentState;
  /** The bundle version. */
  bundle: string;
}

/** Minimal Storage (localStorage is one). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface PzOptions {
  /** The bundle's URL, fetched with ETag caching (If-None-Match). */
  bundleUrl?: string;
  /** An inline bundle (object or JSON text); with bundleUrl it is the fallback. */
  bundle?: object | string;
  /**
   * Signed bundles (docs/bundle.md "Signed bundles"): base64 Ed25519 public keys (several while
   * keys are rotated). Set, a bundle reaches the core only after its signature verified with
   * WebCrypto: the fetched one against its Pz-Signature response header, the stored copy
   * ("<storageKey>.b" keeps the signature) and the inline bundle against bundleSignature. A
   * refused bundle is reported ('error') and the current one stays; bad keys refuse every bundle.
   */
  bundlePublicKeys?: string[];
  /**
   * The inline bundle's signature (`keyid=<16 hex digits>, sig=<base64>`), needed with
   * bundlePublicKeys; the inline bundle must then be its signed JSON text, not an object.
   */
  bundleSignature?: string;
  /** The wasm core's URL (default in pz.js: pz_core.wasm next to the script). */
  wasmUrl?: string;
  /**
   * The wasm core itself: bytes, a compiled module (edge runtimes), or the response of a request
   * the page made itself. `wasm: fetch('/pz_core.wasm')` in the inline init call starts the
   * download while pz.js is still loading (compiled as it streams in when served as
   * application/wasm).
   */
  wasm?: ArrayBuffer | ArrayBufferView | WebAssembly.Module | Response | Promise<Response>;
  /**
   * The response of a plain GET of bundleUrl that the page made itself, used instead of the
   * runtime's first request: `bundleResponse: fetch(bundleUrl)` in the inline init call starts
   * it while pz.js is still loading. It carries no If-None-Match, so the whole bundle comes back
   * (from the HTTP cache when the server answers 304 to the browser); one with the ETag of the
   * stored bundle is not loaded again. Needs bundleUrl, which later refreshes use.
   */
  bundleResponse?: Response | Promise<Response>;
  /** The clock, ms since the epoch (default Date.now). */
  now?: () => number;
  /** fetch (default window.fetch). */
  fetch?: (
    url: string,
    init?: {
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      keepalive?: boolean;
    },
  ) => Promise<Response>;
  /**
   * Where the profile persists once personalization is granted (default localStorage; null:
   * memory only).
   */
  storage?: StorageLike | null;
  /**
   * Key prefix in storage (default "pz": keys "pz" (ids, user id, sync cursor, profile state),
   * "pz.b" (the bundle, with its signature when signed) and "pz.q" (the collect queue)).
   */
  storageKey?: string;
  /**
   * The first-party cookie that shares the anonymous id with an edge worker (default "pz_id";
   * false: none). Written only while personalization is granted, removed on withdrawal; when the
   * edge worker set it first, its id becomes this visitor's anonymous id.
   */
  idCookie?: string | false;
  /** Explain every decision: each Decision (and 'decision' event) carries `why`. */
  why?: boolean;
  /** ms to wait before persisting after a change (default 100). */
  persistDelay?: number;
  /** The window to run in (default globalThis). */
  window?: any;
  /** Host context for rules (context.*: device, locale, geo…). */
  context?: Record<string, Json>;
  /** Page views (load, History API, popstate), [data-pz-event] clicks; false: both off. */
  autocapture?: false | { pageViews?: boolean; clicks?: boolean };
  /** Consent adapters, each on by default; false turns all off. */
  consentAdapters?: false | { tcf?: boolean; consentMode?: boolean; gpc?: boolean };
  /**
   * The pz-server's base URL (docs/server.md), e.g. "https://pz.shop.example". Without it
   * nothing is ever sent: no collect, no sync.
   */
  endpoint?: string;
  /** The site's public write key (Authorization: Bearer, or ?key= on beacons). */
  writeKey?: string;
  /**
   * Events to POST /v1/collect (on by default with endpoint; false: off). Only events made while
   * analytics is granted are queued; at least once (the server dedups by event id). A batch is
   * sent when batchSize events are queued or flushInterval ms after the first; on page hide by
   * sendBeacon. The queue persists in "<storageKey>.q" only while personalization is granted.
   */
  collect?: false | { batchSize?: number; flushInterval?: number; maxQueue?: number };
  /**
   * Profile sync with POST /v1/sync while personalization is granted (on by default with
   * endpoint; false: off): on start, after identify, and every interval ms (default 60000; 0:
   * only on start, identify and pz.sync()).
   */
  sync?: false | { interval?: number };
  /**
   * Retries of collect, sync and identify after a 408, 429, 5xx or network error: full-jitter
   * backoff, random() × min(max, base × 2^n) ms for the n-th failure in a row (default base
   * 1000, max 60000); a 429's Retry-After seconds win. A request without an answer after
   * timeout ms (default 10000; 0: no limit) fails like a network error.
   */
  retry?: { base?: number; max?: number; timeout?: number };
  /** navigator.sendBeacon (default: the window's, when it has one). */
  sendBeacon?: (url: string, data: Blob) => boolean;
  /** Timers for batching, retries and periodic sync (default: the window's). */
  setTimeout?: (fn: () => void, ms: number) => any;
  clearTimeout?: (id: any) => void;
  /** Randomness of the backoff jitter, in [0, 1) (default Math.random). */
  random?: () => number;
}

export interface PzEvents {
  /** Each slot decision (after it is rendered). */
  decision: Decision;
  /** Segment changes as the engine reports them. */
  segment: SegmentChange;
  /** The consent state at start and after every consent signal. */
  consent: ConsentState;
  /** A reported problem (bad call, rejected bundle, network failure…). */
  error: string;
}

/** Queued-style calls: pz('track', 'add_to_cart', {sku}) is pz.track('add_to_cart', {sku}). */
export interface PzCall {
  (cmd: 'init', options: PzOptions): void;
  (cmd: 'track', type: string, props?: Record<string, Json>): Promise<void>;
  (cmd: 'page', props?: Record<string, Json>): Promise<Decision[] | undefined>;
  (cmd: 'identify', userId: string, traits?: Record<string, Json>): Promise<void>;
  (cmd: 'consent', state: ConsentInput): Promise<ConsentState | undefined>;
  (cmd: 'decide', slots?: string | string[]): Promise<Decision[] | undefined>;
  (cmd: 'feedback', action: string, outcome: Outcome): Promise<void>;
  <K extends keyof PzEvents>(cmd: 'on', type: K, fn: (value: PzEvents[K]) => void): () => void;
  (cmd: 'profile'): Promise<Profile | undefined>;
  (cmd: 'reset' | 'flush'): Promise<void>;
  (cmd: 'refresh' | 'sync'): Promise<boolean | undefined>;
}

export type Outcome = 'impression' | 'click' | 'conversion' | 'dismiss';

export interface PzApi {
  /** Starts the runtime (the loader stub's pz('init', {...})); once only. */
  init(options: PzOptions): void;
  /** An event; its time and page are taken now. */
  track(type: string, props?: Record<string, Json>): Promise<void>;
  /** A page view (autocaptured by default), then the page's slots are decided. */
  page(props?: Record<string, Json>): Promise<Decision[] | undefined>;
  /**
   * Sets the user id and traits. With endpoint and personalization consent it then POSTs
   * /v1/identify (linking the anonymous id to the user; a 409 is reported) and syncs as the user.
   */
  identify(userId: string, traits?: Record<string, Json>): Promise<void>;
  /** Applies a consent object; resolves with the resulting state. */
  consent(state: ConsentInput): Promise<ConsentState | undefined>;
  /** Decides slots (default: every data-pz-slot on the page) and renders those on the page. */
  decide(slots?: string | string[]): Promise<Decision[] | undefined>;
  feedback(action: string, outcome: Outcome): Promise<void>;
  /** Subscribes; returns an unsubscribe function. */
  on<K extends keyof PzEvents>(type: K, fn: (value: PzEvents[K]) => void): () => void;
  profile(): Promise<Profile | undefined>;
  /**
   * Forgets the visitor (logout): erases the profile and storage, new anonymous and device ids,
   * no user id and no sync cursor (the consent state is kept). Events already queued are still
   * sent under the ids they were made with.
   */
  reset(): Promise<void>;
  /**
   * Refetches bundleUrl (If-None-Match); a failure (or, with bundlePublicKeys, a signature that
   * does not verify) keeps the current bundle. Resolves true when the fetched (or 304-confirmed)
   * bundle is active.
   */
  refresh(): Promise<boolean | undefined>;
  /** Resolves when every earlier call has been applied and the profile persisted (when allowed). */
  flush(): Promise<void>;
  /**
   * Syncs the profile with the server now (after every earlier call); while a sync is in flight,
   * once more after it. Resolves true when the server's answer was merged; false without
   * endpoint, without personalization consent, or on failure (then it is retried with backoff).
   */
  sync(): Promise<boolean | undefined>;
}

/** The runtime: an API object that is also callable with queued-style calls. */
export type Pz = PzApi & PzCall;

/** Creates a runtime; without options it waits for init(). */
export function createRuntime(options?: PzOptions): Pz;
export default createRuntime;

/** The loader stub before the runtime has loaded. */
export interface PzStub {
  (...args: unknown[]): void;
  q: IArguments[];
}

declare global {
  interface Window {
    pz: Pz | PzStub;
  }
}
