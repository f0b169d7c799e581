// What the worker knows about the visitor of one request: consent signals (the site's consent
// cookie, Sec-GPC), the visitor id cookie (read and written only with personalization consent),
// and the context that context-only decisions use (page, device, locale, geo). Pure functions
// over a Request; nothing is stored.

/** Visitor ids the worker accepts from its cookie (and the server accepts: at most 128 bytes). */
const ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The cookies of a request: name → value (the first of a repeated name wins). */
export function cookies(req) {
  const out = new Map();
  for (const part of (req.headers.get('cookie') || '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (k && !out.has(k)) out.set(k, part.slice(i + 1).trim());
  }
  return out;
}

/**
 * The consent object for the core (docs/consent.md) from the consent cookie and Sec-GPC, or null
 * when there is no signal at all. The cookie holds a URL-encoded JSON object, normally the
 * banner's purposes {"analytics":…,"personalization":…,"marketing":…} (it may also carry the
 * core's sources `tcf` / `consent_mode`); an unreadable cookie counts as no cookie. `Sec-GPC: 1`
 * adds {gpc: true}, which can only take away.
 * @param {Request} req
 * @param {Map<string, string>} jar
 * @param {string} cookieName
 */
export function consentSignal(req, jar, cookieName) {
  let c = null;
  const raw = jar.get(cookieName);
  if (raw) {
    try {
      const v = JSON.parse(decodeURIComponent(raw.replace(/^"|"$/g, '')));
      if (v && typeof v === 'object' && !Array.isArray(v)) c = v;
    } catch {}
  }
  if ((req.headers.get('sec-gpc') || '').trim() === '1') c = { ...c, gpc: true };
  return c;
}

/** The visitor id from its cookie, or null when absent or malformed. */
export function visitorId(jar, cookieName) {
  let v = jar.get(cookieName);
  try {
    v = v && decodeURIComponent(v);
  } catch {
    return null;
  }
  return v && ID.test(v) ? v : null;
}

/** A Set-Cookie value for the visitor id (a year), or one that deletes it (maxAge 0). */
export function idCookie(name, id, { secure, maxAge = 31536000 }) {
  return (
    `${name}=${encodeURIComponent(id)}; Path=/; Max-Age=${maxAge}; SameSite=Lax` +
    (secure ? '; Secure' : '')
  );
}

const MOBILE = /Mobi|iPhone|iPod|Android.*Mobile|Windows Phone|BlackBerry|Opera Mini/i;

/**
 * The host context for rules (`context.*`): device ("mobile" | "desktop", from Sec-CH-UA-Mobile
 * or the User-Agent), locale (the preferred Accept-Language tag), geo {country, region, city,
 * timezone} (Cloudflare's request.cf, else the CF-IPCountry header). Unknown parts are left out.
 * @param {Request} req
 */
export function contextOf(req) {
  const h = req.headers;
  const ctx = {};
  const chMobile = h.get('sec-ch-ua-mobile');
  const ua = h.get('user-agent');
  if (chMobile === '?1' || (chMobile !== '?0' && ua && MOBILE.test(ua))) ctx.device = 'mobile';
  else if (chMobile || ua) ctx.device = 'desktop';
  const locale = preferredLanguage(h.get('accept-language'));
  if (locale) ctx.locale = locale;
  const cf = req.cf || {};
  const geo = {};
  const country = cf.country || h.get('cf-ipcountry');
  if (country && /^[A-Za-z]{2}$/.test(country)) geo.country = country.toUpperCase();
  for (const k of ['region', 'city', 'timezone']) {
    if (typeof cf[k] === 'string' && cf[k]) geo[k] = cf[k];
  }
  if (Object.keys(geo).length) ctx.geo = geo;
  return ctx;
}

/** The tag with the highest q of an Accept-Language header (the first among equals). */
export function preferredLanguage(header) {
  let best = null;
  let bestQ = 0;
  for (const part of (header || '').split(',')) {
    const [tag, ...params] = part.trim().split(';');
    if (!/^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(tag)) continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q=([0-9.]+)\s*$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (q > bestQ) {
      best = tag;
      bestQ = q;
    }
  }
  return best;
}

/** The page for rules (`page.*`): url, path and referrer of the request as the visitor sees it. */
export function pageOf(req) {
  const u = new URL(req.url);
  const page = { url: u.href, path: u.pathname };
  const ref = req.headers.get('referer');
  if (ref) page.referrer = ref;
  return page;
}
