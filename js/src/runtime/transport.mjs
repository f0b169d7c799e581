// The runtime's transport to pz-server (docs/server.md): the collect queue (batches, flushes,
// retries, page-hide beacons) and the retry rules that sync and identify share. Pure: the
// network, timers, randomness and persistence are passed in.
//
// Delivery is at least once: an event leaves the queue only after a 2xx for its batch, or when
// the server refuses the batch for good (a 4xx other than 408/429, reported: a malformed batch
// never retries forever). The server deduplicates by event id, so sending twice is safe.
//
// Page hide: each batch goes by sendBeacon to `url?key=<writeKey>` as text/plain (no header, no
// CORS preflight), else by fetch keepalive in the same shape. A beacon gives no answer, so its
// events stay in the (persisted) queue and are only kept from being sent again by this page
// while it stays hidden: the next page load, or this page becoming visible again, sends them
// once more by fetch and they leave the queue on its 2xx.

/** ms to wait before retry n (0-based): full jitter, random() × min(max, base × 2^n). */
export const backoff = (n, r, random) => random() * Math.min(r.max, r.base * 2 ** n);

/**
 * What an answer means: true done (2xx), false refused for good (a retry would fail the same
 * way), else the ms to wait before retry n (408, 429, 5xx or no answer: Retry-After seconds when
 * given, else backoff).
 */
export function verdict(res, n, r, random) {
  const s = res ? res.status : 0;
  if (s > 199 && s < 300) return true;
  if (s && s < 500 && s !== 408 && s !== 429) return false;
  const after = res && res.headers.get('Retry-After');
  return after && after >= 0 ? after * 1000 : backoff(n, r, random);
}

/** POSTs JSON with the write key as a bearer token. */
export const post = (fetch, url, key, body, timeout) =>
  fetch(url, {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + key, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    // A server that never answers fails the request after `timeout` ms (then retried, deduped by
    // the server) instead of holding the queue forever.
    signal: timeout > 0 && globalThis.AbortSignal?.timeout ? AbortSignal.timeout(timeout) : undefined,
  });

// Bytes of events per batch at most: the server takes 512 KB (the core refuses an event over
// 32 KB before it is queued).
const BATCH_BYTES = 256e3;
const enc = new TextEncoder();

/**
 * The collect queue. Items are {a: anonymous id, u?: user id, e: event, n: bytes}; a batch is a
 * run of items with the same ids, at most c.batchSize of them and BATCH_BYTES.
 * @param {{url: string, key: string, batchSize: number, flushInterval: number, maxQueue: number,
 *   retry: {base: number, max: number}, fetch: Function, beacon: (url: string, body: string) =>
 *   boolean, random: () => number, setTimeout: Function, clearTimeout: Function,
 *   changed: () => void, report: (msg: string) => void}} c
 */
export function outbox(c) {
  let q = [];
  let hidden = new WeakSet(); // beaconed by this page while hidden: not sent again until shown
  let timer = 0;
  let fails = 0; // failed attempts in a row (the backoff exponent)
  let busy, full;

  const arm = (ms, reset) => {
    if (reset) (c.clearTimeout(timer), (timer = 0));
    if (!timer) timer = c.setTimeout(() => ((timer = 0), flush()), ms);
  };
  const remove = (b) => {
    q = q.filter((x) => !b.includes(x));
    c.changed();
  };
  /** Settles batch b by its answer; returns the ms to wait when it must be retried. */
  const settle = (res, b) => {
    const v = verdict(res, fails, c.retry, c.random);
    if (typeof v === 'number') return v;
    if (!v) c.report(`collect: HTTP ${res.status}, ${b.length} events dropped`);
    remove(b);
  };
  const body = (b) => ({ anonymous_id: b[0].a, user_id: b[0].u, events: b.map((x) => x.e) });
  const batch = () => {
    const b = [];
    let size = 0;
    for (const x of q) {
      if (hidden.has(x)) continue;
      size += x.n;
      if (
        b.length &&
        (x.a !== b[0].a || x.u !== b[0].u || b.length >= c.batchSize || size > BATCH_BYTES)
      )
        break;
      b.push(x);
    }
    return b;
  };

  /** Sends every batch in turn until the queue is empty or a batch must wait for a retry. */
  async function flush() {
    if (busy) return; // the loop in flight takes what is queued meanwhile
    busy = 1;
    try {
      for (let b; (b = batch()).length;) {
        let res;
        try {
          res = await post(c.fetch, c.url, c.key, body(b), c.retry.timeout);
        } catch {}
        const wait = settle(res, b);
        if (wait == null) fails = 0;
        else {
          fails++;
          arm(wait, 1);
          break;
        }
      }
    } finally {
      busy = 0;
    }
  }

  return {
    q: () => q,
    /** Restores a persisted queue (items of an earlier page) ahead of this page's. */
    load(items) {
      if (Array.isArray(items))
        q = items
          .filter((x) => x && x.a && x.e && x.e.id && x.n > 0)
          .concat(q)
          .slice(-c.maxQueue);
    },
    push(a, u, e) {
      q.push({ a, u, e, n: enc.encode(JSON.stringify(e)).length });
      if (q.length > c.maxQueue) {
        q.shift();
        if (!full) c.report(`collect: over ${c.maxQueue} events queued, dropping the oldest`);
        full = 1;
      }
      c.changed();
      q.length >= c.batchSize && !fails ? flush() : arm(c.flushInterval);
    },
    flush,
    /** Drops queued events made at or before `t` (default: all). */
    clear(t = Infinity) {
      q = q.filter((x) => x.e.t > t);
      if (!q.length) (c.clearTimeout(timer), (timer = fails = 0));
      c.changed();
    },
    /** The page is being hidden or unloaded: beacon what is queued. */
    hide() {
      const url = c.url + '?key=' + encodeURIComponent(c.key);
      for (let b; (b = batch()).length;) {
        b.forEach((x) => hidden.add(x));
        const s = JSON.stringify(body(b));
        if (c.beacon(url, s)) continue;
        const back = () => b.forEach((x) => hidden.delete(x));
        c.fetch(url, {
          method: 'POST',
          keepalive: true,
          headers: { 'content-type': 'text/plain' },
          body: s,
        }).then((res) => settle(res, b) != null && back(), back);
      }
    },
    /** The page is visible again: what was beaconed goes again by fetch, to learn it arrived. */
    shown() {
      hidden = new WeakSet();
      if (q.length) arm(c.flushInterval);
    },
  };
}
