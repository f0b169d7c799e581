/* pz loader stub: paste into <head>, before any other pz() call.
 * Configure it with the arguments on its last line (runtime URL, anti-flicker timeout in ms), or
 * with attributes on its <script> tag:
 *   data-pz-src="https://cdn.example/pz.js" data-pz-timeout="300".
 * It defines window.pz(...), which queues calls in pz.q until the runtime (pz.js) has loaded and
 * replays them; it hides only [data-pz-slot] elements (never the page) until the first decision
 * is applied, or the timeout passes, or the runtime fails to load, so defaults always show. Slots
 * an edge worker already filled (data-pz-decided) are never hidden. */
(function (w, d, src, timeout) {
  if (w.pz) return;
  var s = d.currentScript;
  var h = d.head || d.documentElement;
  var a = s && s.getAttribute('data-pz-src');
  var t = s && s.getAttribute('data-pz-timeout');
  var pz = (w.pz = function () {
    pz.q.push(arguments);
  });
  var st = d.createElement('style');
  var sc = d.createElement('script');
  var show = function () {
    st.parentNode && st.parentNode.removeChild(st);
  };
  pz.q = [];
  st.id = 'pz-af';
  st.textContent = '[data-pz-slot]:not([data-pz-decided]){visibility:hidden!important}';
  h.appendChild(st);
  setTimeout(show, t ? +t : timeout);
  sc.async = true;
  sc.src = a || src;
  sc.onerror = show;
  h.appendChild(sc);
})(window, document, '/pz.js', 300);
