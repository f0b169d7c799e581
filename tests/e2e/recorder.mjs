// An init script (context.addInitScript) that records, from the start of every page, what the
// slots show: every change of a slot's title text or visibility, seen by a MutationObserver and
// on every animation frame (the frame that paints), plus layout-shift entries and paint timings.
// Results in window.__pzRec: {log: [{t, slot, text, visible, decided, via}], shifts: [{t,
// value, hadRecentInput, sources: [{node, cls, inSlot, from, to}], clientWidth, docHeight}],
// paints: {name: t}, firstShown: {slot: {t, text}}} with t = performance.now() (ms since
// navigation start).
export function recorder() {
  const rec = (window.__pzRec = { log: [], shifts: [], paints: {}, firstShown: {} });
  const last = new Map();
  const look = (via) => {
    const t = performance.now();
    for (const el of document.querySelectorAll('[data-pz-slot]')) {
      const slot = el.getAttribute('data-pz-slot');
      const f = el.querySelector('[data-pz-field="title"]') || el;
      const text = f.textContent.replace(/\s+/g, ' ').trim();
      const visible = getComputedStyle(el).visibility === 'visible';
      const decided = el.getAttribute('data-pz-decided');
      const k = text + '\0' + visible + '\0' + decided;
      if (last.get(el) !== k) {
        last.set(el, k);
        rec.log.push({ t, slot, text, visible, decided, via });
      }
      if (via === 'frame' && visible && text && !rec.firstShown[slot]) {
        rec.firstShown[slot] = { t, text };
      }
    }
  };
  new MutationObserver(() => look('mutation')).observe(document, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
  });
  const frame = () => {
    look('frame');
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        rec.shifts.push({
          t: e.startTime,
          value: e.value,
          hadRecentInput: e.hadRecentInput,
          sources: (e.sources || []).map((s) => ({
            node: s.node ? s.node.nodeName : null,
            cls: (s.node && typeof s.node.className === 'string' && s.node.className) || undefined,
            inSlot: !!(s.node && s.node.closest && s.node.closest('[data-pz-slot]')) ||
              !!(s.node && s.node.parentElement && s.node.parentElement.closest('[data-pz-slot]')),
            // Where it was and where it went (x, y, width, height), to tell what moved it.
            from: s.previousRect && [s.previousRect.x, s.previousRect.y, s.previousRect.width,
              s.previousRect.height].map(Math.round),
            to: s.currentRect && [s.currentRect.x, s.currentRect.y, s.currentRect.width,
              s.currentRect.height].map(Math.round),
          })),
          // The viewport's width without a scrollbar and the document's height when observed.
          clientWidth: document.documentElement.clientWidth,
          docHeight: document.documentElement.scrollHeight,
        });
      }
    }).observe({ type: 'layout-shift', buffered: true });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) rec.paints[e.name] = e.startTime;
    }).observe({ type: 'paint', buffered: true });
  } catch {}
}
