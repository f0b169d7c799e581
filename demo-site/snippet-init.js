/* Stamped inline into every page's <head> by demo-site/build.mjs, right after the pz loader
 * stub. ES5, like the stub: it runs before anything else on the page.
 * 1. The visitor's stored choice (the site's own banner writes the first-party cookie pz_consent
 *    = URL-encoded JSON {"analytics":bool,"personalization":bool,"marketing":bool}; the edge
 *    worker reads the same cookie) goes to pz before init, so this page's view already counts.
 * 2. With ?pz_debug=1 (remembered for the tab's session; ?pz_debug=0 turns it off) every
 *    segment change, decision, consent state and error is recorded from the very start for the
 *    debug panel (assets/debug.js).
 * 3. init: same origin as pz-server, which serves the pages, the bundle and the API. The wasm and
 *    the bundle are requested here, while pz.js is still loading (a round trip sooner on a cold
 *    page): the runtime takes the responses (wasm, bundleResponse). */
(function (w) {
  var m = document.cookie.match(/(?:^|;\s*)pz_consent=([^;]*)/);
  if (m) {
    try {
      var c = JSON.parse(decodeURIComponent(m[1]));
      pz('consent', {
        analytics: c.analytics === true,
        personalization: c.personalization === true,
        marketing: c.marketing === true,
      });
    } catch (e) {}
  }
  var debug = false;
  try {
    var q = /[?&]pz_debug=([01])/.exec(location.search);
    if (q) sessionStorage.setItem('pz_debug', q[1]);
    debug = sessionStorage.getItem('pz_debug') === '1';
  } catch (e) {}
  if (debug) {
    var log = (w.pzDebug = { log: [], notify: null });
    ['segment', 'decision', 'consent', 'error'].forEach(function (type) {
      pz('on', type, function (value) {
        log.log.push({ type: type, t: Date.now(), value: value });
        if (log.notify) log.notify();
      });
    });
  }
  var bundleUrl = '/v1/bundle?key=pk_demo';
  var wasmUrl = '/assets/pz/pz_core.wasm';
  // A failed request is the runtime's to report once it loads: handled here, so that the
  // browser does not log an unhandled rejection before then.
  var early = function (url) {
    if (typeof w.fetch !== 'function') return undefined;
    var r = w.fetch(url);
    r['catch'](function () {});
    return r;
  };
  pz('init', {
    bundleUrl: bundleUrl,
    bundleResponse: early(bundleUrl),
    endpoint: location.origin,
    writeKey: 'pk_demo',
    why: debug,
    wasm: early(wasmUrl),
    wasmUrl: wasmUrl,
  });
})(window);
