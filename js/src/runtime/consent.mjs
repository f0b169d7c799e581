// Consent adapters: turn a site's consent signals into the core's consent objects
// (docs/consent.md). Each adapter is on by default and can be turned off:
//   tcf          IAB TCF v2.2 through window.__tcfapi('addEventListener', 2, cb)
//   consentMode  Google Consent Mode v2: gtag('consent', 'default'|'update', {...}) in dataLayer
//   gpc          navigator.globalPrivacyControl
// The site's own banner calls pz.consent({analytics, personalization, marketing}) directly.

/** Consent Mode states the core understands (others, such as wait_for_update or region, are not
 * consent states and are left out). */
const CM_KEYS = new Set(
  (
    'ad_storage ad_user_data ad_personalization analytics_storage personalization_storage ' +
    'functionality_storage security_storage'
  ).split(' '),
);

/**
 * @typedef {{tcf?: boolean, consentMode?: boolean, gpc?: boolean}} AdapterOptions
 */

/**
 * Attaches the enabled adapters to `win`; `apply` receives each consent object in the order the
 * signals arrive. Returns whether GPC is on (the runtime adds {gpc: true} to every later consent
 * object, since GPC can only take away).
 * @param {any} win
 * @param {AdapterOptions | false | undefined} cfg
 * @param {(consent: object) => void} apply
 * @returns {boolean}
 */
export function attachConsent(win, cfg, apply) {
  const on = (k) => cfg !== false && (cfg || {})[k] !== false;
  const gpc = on('gpc') && win.navigator?.globalPrivacyControl === true;

  if (on('tcf') && typeof win.__tcfapi === 'function') {
    win.__tcfapi('addEventListener', 2, (tc, success) => {
      if (
        success !== false &&
        tc &&
        tc.gdprApplies === true &&
        typeof tc.tcString === 'string' &&
        (tc.eventStatus === 'tcloaded' || tc.eventStatus === 'useractioncomplete')
      ) {
        apply({ tcf: tc.tcString });
      }
    });
  }

  if (on('consentMode')) {
    const dl = (win.dataLayer = win.dataLayer || []);
    const state = {};
    const scan = (e) => {
      // gtag() pushes its `arguments` object: ['consent', 'default' | 'update', {...}].
      if (
        Object.prototype.toString.call(e) !== '[object Arguments]' ||
        e[0] !== 'consent' ||
        (e[1] !== 'default' && e[1] !== 'update') ||
        !e[2] ||
        typeof e[2] !== 'object'
      )
        return;
      let any;
      for (const [k, v] of Object.entries(e[2])) {
        if (CM_KEYS.has(k) && (v === 'granted' || v === 'denied')) any = state[k] = v;
      }
      if (any) apply({ consent_mode: { ...state } });
    };
    dl.forEach(scan);
    const push = dl.push;
    dl.push = function (...items) {
      const r = push.apply(this, items);
      try {
        items.forEach(scan);
      } catch {} // never break the site's dataLayer
      return r;
    };
  }

  if (gpc) apply({ gpc: true });
  return gpc;
}
