// The pz debug panel, on with ?pz_debug=1 (for the tab's session; ?pz_debug=0 turns it off).
// The inline snippet (demo-site/snippet-init.js) records every segment change, decision,
// consent state and error from the start in window.pzDebug; shop.js loads this file when that
// recorder exists. It shows:
// - the consent state (the runtime's, and the pz_consent cookie the banner wrote);
// - the segments, each with when it was entered: the runtime reports changes without times, so
//   the panel stamps them as they arrive and keeps the stamps in sessionStorage; a segment that
//   came with the stored profile before this page shows "before this page" unless an earlier
//   page of this session saw it enter;
// - each slot's decision on this page and its `why`: the page's own (the snippet turns on the
//   runtime's why option in debug mode); for a slot the edge worker painted, the panel syncs the
//   profile (pz.sync()) and asks pz-server's POST /v1/decide with why:true, which decides with the
//   same core and bundle over the synced profile, and says so when the server's answer differs
//   from what the page got;
// - the profile (pz.profile()): ids, first and last seen, sessions, traits, counts, metrics,
//   exposures.
(() => {
  const dbg = window.pzDebug;
  const pz = window.pz;
  if (!dbg || typeof pz !== 'function' || document.getElementById('pzd')) return;

  const KEY = 'pz_debug.segments';
  const OPEN = 'pz_debug.open';
  const session = {
    get(k) {
      try {
        return JSON.parse(sessionStorage.getItem(k));
      } catch {
        return null;
      }
    },
    set(k, v) {
      try {
        sessionStorage.setItem(k, JSON.stringify(v));
      } catch {}
    },
  };
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const time = (t) => {
    if (t == null) return '–';
    const d = new Date(t);
    return d.toDateString() === new Date().toDateString()
      ? d.toLocaleTimeString()
      : d.toLocaleString();
  };

  // ---- what the recorder saw ----
  const entered = session.get(KEY) || {}; // segment id → ms entered, or 0: before this page
  let restoring = true; // changes before the runtime's first consent event: the stored profile
  let seen = 0;
  const decisions = new Map(); // slot → the latest decision on this page
  let consent = null;
  const errors = [];
  function take() {
    for (; seen < dbg.log.length; seen++) {
      const { type, t, value } = dbg.log[seen];
      if (type === 'consent') {
        consent = value;
        restoring = false;
      } else if (type === 'segment') {
        for (const s of value.exited) delete entered[s];
        for (const s of value.entered) {
          if (!restoring) entered[s] = t;
          else if (!(s in entered)) entered[s] = 0;
        }
      } else if (type === 'decision') {
        decisions.set(value.slot, { ...value, t });
        explainSoon();
      } else if (type === 'error') {
        errors.push({ t, value });
      }
    }
    session.set(KEY, entered);
  }

  // ---- why, from pz-server's decide over the synced profile ----
  let why = null;
  let whyTimer = 0;
  function explainSoon() {
    clearTimeout(whyTimer);
    whyTimer = setTimeout(explain, 400);
  }
  async function explain() {
    const slots = [...decisions.keys()];
    if (!slots.length) return;
    try {
      const synced = await pz('sync');
      const p = await pz('profile');
      const res = await fetch('/v1/decide', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer pk_demo' },
        body: JSON.stringify({
          id: (p && (p.user_id || p.anonymous_id)) || 'unknown',
          slots,
          why: true,
          page: { url: location.href, path: location.pathname, title: document.title },
        }),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = await res.json();
      why = { t: Date.now(), synced, segments: body.segments, by: {} };
      for (const d of body.decisions) why.by[d.slot] = d;
    } catch (e) {
      why = { error: String((e && e.message) || e) };
    }
    render();
  }

  // ---- the panel ----
  const style = document.createElement('style');
  style.textContent = `
    #pzd{position:fixed;z-index:40;right:.75rem;bottom:.75rem;width:min(28rem,calc(100vw - 1.5rem));
      max-height:75vh;overflow:auto;background:#0e1726;color:#e8edf5;border-radius:10px;
      box-shadow:0 8px 30px rgb(0 0 0/35%);
      font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace}
    #pzd button{font:inherit;color:#0e1726;background:#9fd8c9;border:0;border-radius:5px;
      padding:.2rem .5rem;cursor:pointer}
    #pzd .pzd-head{position:sticky;top:0;display:flex;gap:.5rem;align-items:center;
      background:#0e1726;padding:.5rem .75rem}
    #pzd .pzd-head strong{flex:1}
    #pzd a{color:#9fd8c9}
    #pzd .pzd-body{padding:0 .75rem .75rem}
    #pzd h3{font-size:12px;margin:.9rem 0 .3rem;color:#ffd27a;text-transform:uppercase}
    #pzd table{border-collapse:collapse;width:100%}
    #pzd td,#pzd th{text-align:left;padding:.1rem .4rem .1rem 0;vertical-align:top}
    #pzd th{color:#aab6c8;font-weight:normal}
    #pzd .ok{color:#8fe3a8}#pzd .no{color:#ff9d9d}#pzd .dim{color:#aab6c8}
    #pzd details{margin:.3rem 0;border-left:2px solid #33425a;padding-left:.5rem}
    #pzd summary{cursor:pointer}
    #pzd ul{margin:0;padding-left:1.1rem}
    #pzd code{color:#fff}`;
  document.head.append(style);
  const panel = document.createElement('aside');
  panel.id = 'pzd';
  panel.setAttribute('aria-label', 'pz debug panel');
  panel.innerHTML = `
    <div class="pzd-head">
      <strong>pz debug</strong>
      <button type="button" data-pzd-refresh>Refresh</button>
      <button type="button" data-pzd-toggle aria-controls="pzd-body">Hide</button>
    </div>
    <div class="pzd-body" id="pzd-body"></div>`;
  document.body.append(panel);
  const body = panel.querySelector('#pzd-body');
  const toggle = panel.querySelector('[data-pzd-toggle]');
  const setOpen = (open) => {
    body.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = open ? 'Hide' : 'Show';
    session.set(OPEN, open);
  };
  setOpen(session.get(OPEN) !== false);
  toggle.addEventListener('click', () => setOpen(body.hidden));
  panel.querySelector('[data-pzd-refresh]').addEventListener('click', () => {
    render();
    explain();
  });

  const rows = (pairs) =>
    `<table>${pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
  const bool = (v) => (v ? '<span class="ok">yes</span>' : '<span class="no">no</span>');
  const dim = (text) => `<span class="dim">${esc(text)}</span>`;

  function consentHtml(p) {
    const c = consent || (p && p.consent);
    const m = document.cookie.match(/(?:^|;\s*)pz_consent=([^;]*)/);
    if (!c) return '<p class="dim">not known yet</p>';
    return rows([
      ['analytics', bool(c.analytics)],
      ['personalization', bool(c.personalization)],
      ['marketing', bool(c.marketing)],
      ['signal given', bool(c.given)],
      ['cookie', m ? `<code>${esc(decodeURIComponent(m[1]))}</code>` : dim('none')],
    ]);
  }

  function segmentsHtml(p) {
    const list = (p && p.segments) || [];
    if (!list.length) return '<p class="dim">none</p>';
    return rows(
      list.map((s) => [
        s,
        entered[s] ? `entered ${esc(time(entered[s]))}` : dim('before this page'),
      ]),
    );
  }

  function whyHtml(slot, got) {
    // The page's own decision carries its why (init option why: true); a slot the edge worker
    // painted, or a runtime without why, is explained by the server's replay.
    const local = got.why ? { action: got.action, why: got.why } : null;
    if (!local && !why) return '<p class="dim">asking pz-server…</p>';
    if (!local && why.error) return `<p class="no">pz-server: ${esc(why.error)}</p>`;
    const d = local || why.by[slot];
    if (!d || !d.why) return '<p class="dim">no answer for this slot</p>';
    const w = d.why;
    const differs =
      !local && d.action !== got.action
        ? `<p class="no">The server's replay now picks ${esc(d.action ?? 'the default')}: the
            profile changed since this page decided, or this page's impression reached a cap.</p>`
        : '';
    const cands = (w.candidates || [])
      .map((c) => {
        const factors = [c.propensity, c.context_weight, c.value, c.lever].join(' × ');
        const score = c.score != null ? `priority ${c.score} = ${factors}` : '';
        const rule = (r) =>
          `<li>${esc(r.rule)} → <span class="${r.result ? 'ok' : 'no'}">` +
          `${esc(JSON.stringify(r.result))}</span></li>`;
        const rules = (c.rules || []).map(rule).join('');
        const mark = c.action === w.action ? 'ok' : c.removed ? 'dim' : '';
        return `<li class="${mark}"><code>${esc(c.action)}</code> ${esc(c.removed || score)}${
          rules ? `<ul>${rules}</ul>` : ''
        }</li>`;
      })
      .join('');
    return `${differs}<ul>${cands || '<li class="dim">no candidate actions</li>'}</ul>${
      w.runner_up ? `<p class="dim">runner-up: ${esc(w.runner_up)}</p>` : ''
    }${w.holdout ? '<p>in the holdout: defaults shown</p>' : ''}`;
  }

  function decisionsHtml() {
    if (!decisions.size) return '<p class="dim">none yet</p>';
    const out = [];
    for (const [slot, d] of decisions) {
      const title = d.content && typeof d.content === 'object' ? d.content.title : d.content;
      out.push(`<details data-slot="${esc(slot)}"${open.has(slot) ? ' open' : ''}>
        <summary><code>${esc(slot)}</code> → ${
          d.action ? `<code>${esc(d.action)}</code>` : '<span class="dim">default</span>'
        } ${dim(time(d.t))}</summary>
        ${title ? `<p>“${esc(title)}”</p>` : ''}
        ${whyHtml(slot, d)}
      </details>`);
    }
    const note = why && !why.error
      ? `<p class="dim">why: pz-server's POST /v1/decide (why: true) at ${esc(time(why.t))}${
          why.synced ? ', after a sync' : ', without a sync (no personalization consent)'
        }</p>`
      : '';
    return out.join('') + note;
  }

  function seriesHtml(map) {
    const ids = Object.keys(map || {});
    if (!ids.length) return '<p class="dim">none</p>';
    return rows(ids.map((id) => [id, `${map[id].total} ${dim('last ' + time(map[id].last))}`]));
  }

  function profileHtml(p) {
    if (!p) return '<p class="dim">not loaded</p>';
    const exp = Object.entries(p.exposures || {}).filter(([, x]) => x.impressions || x.clicks);
    return `${rows([
      ['anonymous id', `<code>${esc(p.anonymous_id)}</code>`],
      ['user id', p.user_id ? `<code>${esc(p.user_id)}</code>` : dim('none')],
      ['device id', `<code>${esc(p.device_id)}</code>`],
      ['first seen', esc(time(p.first_seen))],
      ['last seen', esc(time(p.last_seen))],
      ['sessions', esc(p.sessions)],
      ['erased at', esc(time(p.erased_at))],
      ['bundle', `<code>${esc(p.bundle)}</code>`],
      ['traits', `<code>${esc(JSON.stringify(p.traits))}</code>`],
    ])}
    <h3>Counts (events)</h3>${seriesHtml(p.counts)}
    <h3>Metrics</h3>${seriesHtml(p.metrics)}
    <h3>Exposures</h3>${
      exp.length
        ? rows(exp.map(([a, x]) => [a, `${x.impressions} shown, ${x.clicks} clicked`]))
        : '<p class="dim">none</p>'
    }`;
  }

  const open = new Set(); // slots whose why is unfolded
  let pending = 0;
  async function render() {
    take();
    if (pending++) return;
    try {
      const p = await pz('profile');
      open.clear();
      for (const d of body.querySelectorAll('details[open]')) open.add(d.dataset.slot);
      const errs = errors.map((e) => `<li class="no">${esc(e.value)}</li>`).join('');
      body.innerHTML = `
        <p class="dim">${esc(location.pathname)} · <a href="?pz_debug=0">turn off</a></p>
        <h3>Consent</h3>${consentHtml(p)}
        <h3>Segments</h3>${segmentsHtml(p)}
        <h3>Decisions</h3>${decisionsHtml()}
        <h3>Profile</h3>${profileHtml(p)}
        ${errs ? `<h3>Errors</h3><ul>${errs}</ul>` : ''}`;
    } finally {
      const again = pending > 1;
      pending = 0;
      if (again) render();
    }
  }
  let soon = 0;
  dbg.notify = () => {
    clearTimeout(soon);
    soon = setTimeout(render, 50);
  };
  render();
})();
