// Stride Running Co., the demo shop's own script: the cart (the site's own data, in
// localStorage), checkout, a demo sign-in and the consent banner. Everything about the visitor
// goes through pz(...): the inline snippet queues calls until the runtime has loaded, and a page
// served without the snippet (demo-site/site/ before build.mjs stamps it) still works as a shop.
(() => {
  const pz = (...args) => (typeof window.pz === 'function' ? window.pz(...args) : undefined);
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

  const CATALOG = {
    'trail-runner-gtx': {
      name: 'Trail Runner GTX',
      price: 139,
      thumb: 'thumb-trail',
      href: '/shop/running-shoes/trail-runner.html',
    },
    'road-racer-3': {
      name: 'Road Racer 3',
      price: 165,
      thumb: 'thumb-racer',
      href: '/shop/running-shoes/road-racer.html',
    },
    'merino-run-tee': {
      name: 'Merino Run Tee',
      price: 58,
      thumb: 'thumb-tee',
      href: '/shop/apparel/merino-tee.html',
    },
    'wind-shell': {
      name: 'Featherweight Wind Shell',
      price: 95,
      thumb: 'thumb-shell',
      href: '/shop/apparel/wind-shell.html',
    },
    'club-monthly': {
      name: "Runner's Club, monthly",
      price: 9,
      thumb: 'thumb-club',
      href: '/pricing.html',
    },
    'club-annual': {
      name: "Runner's Club, annual",
      price: 89,
      thumb: 'thumb-club',
      href: '/pricing.html',
    },
  };
  const FREE_SHIPPING = 50;
  const SHIPPING = 6;
  const money = (n) => n.toLocaleString('en-US', { style: 'currency', currency: 'USD' });
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  // ---- site storage (strictly necessary: the cart and the signed-in member id) ----
  const load = (key, dflt) => {
    try {
      return JSON.parse(localStorage.getItem(key)) ?? dflt;
    } catch {
      return dflt;
    }
  };
  const store = (key, value) => {
    try {
      if (value == null) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify(value));
    } catch {}
  };

  // ---- cart ----
  const readCart = () => load('stride.cart', []).filter((l) => CATALOG[l.sku] && l.qty > 0);
  const writeCart = (lines) => {
    store('stride.cart', lines.length ? lines : null);
    showCount();
  };
  const totals = (lines) => {
    const subtotal = lines.reduce((s, l) => s + CATALOG[l.sku].price * l.qty, 0);
    const shipping = subtotal === 0 || subtotal >= FREE_SHIPPING ? 0 : SHIPPING;
    const items = lines.reduce((n, l) => n + l.qty, 0);
    return { subtotal, shipping, total: subtotal + shipping, items };
  };
  function showCount() {
    const n = totals(readCart()).items;
    for (const el of $$('[data-cart-count]')) el.textContent = String(n);
  }
  function add(sku, size) {
    const lines = readCart();
    const line = lines.find((l) => l.sku === sku && l.size === size);
    if (line) line.qty += 1;
    else lines.push({ sku, size, qty: 1 });
    writeCart(lines);
    const status = $('[data-add-status]');
    if (status) {
      const what = CATALOG[sku].name + (size ? ` (${size})` : '');
      status.innerHTML = `Added ${esc(what)} to your cart. <a href="/cart.html">View cart</a>`;
    }
    // The add to cart may have changed the visitor's segments (high intent): refresh the bar.
    pz('decide', ['offer_bar']);
  }

  function productPage() {
    const form = $('[data-add-form]');
    if (form) {
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        add(form.closest('[data-product]').dataset.product, form.elements.size.value);
      });
    }
    for (const b of $$('[data-add-sku]')) b.addEventListener('click', () => add(b.dataset.addSku));
  }

  function summaryHtml(lines) {
    const t = totals(lines);
    return `
      <div class="totals">
        <div><span>Subtotal</span><span>${money(t.subtotal)}</span></div>
        <div><span>Shipping</span><span>${t.shipping ? money(t.shipping) : 'Free'}</span></div>
        <div class="grand"><span>Total</span><span>${money(t.total)}</span></div>
      </div>`;
  }

  function cartPage() {
    const box = $('[data-cart]');
    if (!box) return;
    const render = () => {
      const lines = readCart();
      if (!lines.length) {
        box.innerHTML = `<p>Your cart is empty.
          <a href="/shop/running-shoes/">Find your next pair of shoes.</a></p>`;
        return;
      }
      const rows = lines
        .map((l, i) => {
          const p = CATALOG[l.sku];
          const name = p.name + (l.size ? ` (${l.size})` : '');
          return `<tr>
            <td><a href="${p.href}">${esc(name)}</a></td>
            <td class="num hide-sm">${money(p.price)}</td>
            <td><span class="qty">
              <button type="button" data-qty="${i}" data-delta="-1"
                aria-label="One less ${esc(name)}">&minus;</button>
              <span>${l.qty}</span>
              <button type="button" data-qty="${i}" data-delta="1"
                aria-label="One more ${esc(name)}">+</button>
            </span></td>
            <td class="num">${money(p.price * l.qty)}</td>
          </tr>`;
        })
        .join('');
      box.innerHTML = `
        <table class="cart-table">
          <caption class="visually-hidden">Items in your cart</caption>
          <thead><tr><th scope="col">Item</th><th scope="col" class="num hide-sm">Price</th>
            <th scope="col">Quantity</th><th scope="col" class="num">Total</th></tr></thead>
          <tbody>${rows}</tbody>
        </table>
        ${summaryHtml(lines)}
        <p><a class="btn" href="/checkout.html">Checkout</a></p>`;
    };
    box.addEventListener('click', (e) => {
      const b = e.target.closest('[data-qty]');
      if (!b) return;
      const lines = readCart();
      const line = lines[Number(b.dataset.qty)];
      if (!line) return;
      line.qty += Number(b.dataset.delta);
      writeCart(lines.filter((l) => l.qty > 0));
      render();
    });
    render();
  }

  function checkoutPage() {
    const form = $('[data-checkout-form]');
    if (!form) return;
    const summary = $('[data-summary]');
    const error = $('[data-checkout-error]');
    const lines = readCart();
    if (lines.length) {
      const item = (l) => esc(CATALOG[l.sku].name + (l.size ? ` (${l.size})` : ''));
      summary.innerHTML =
        '<ul>' +
        lines.map((l) => `<li>${l.qty} &times; ${item(l)}</li>`).join('') +
        '</ul>' +
        summaryHtml(lines);
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const cart = readCart();
      if (!cart.length) {
        error.textContent = 'Your cart is empty.';
        return;
      }
      if (!form.checkValidity()) {
        error.textContent = 'Please fill in your email, name, address and ZIP code.';
        form.reportValidity();
        return;
      }
      error.textContent = '';
      const t = totals(cart);
      const orderId = 'SR-' + Math.random().toString(36).slice(2, 8).toUpperCase();
      // The order's value feeds the bundle's spend metric (high value) and purchase counts
      // (frequent buyer, loyal); nothing from the form (email, address) goes to pz.
      pz('track', 'purchase', {
        value: t.total,
        currency: 'USD',
        items: t.items,
        order_id: orderId,
      });
      writeCart([]);
      $('[data-checkout]').hidden = true;
      const done = $('[data-confirmation]');
      $('[data-order-id]', done).textContent = orderId;
      $('[data-order-total]', done).textContent = money(t.total);
      done.hidden = false;
      done.focus();
      pz('decide');
    });
  }

  // ---- demo sign-in: the member id is a hash of the email, never the email itself ----
  const fnv1a = (s) => {
    let h = 0x811c9dc5;
    for (const byte of new TextEncoder().encode(s)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
    return h.toString(16).padStart(8, '0');
  };
  function showMember() {
    const id = load('stride.member', null);
    for (const a of $$('[data-account-link]')) a.textContent = id ? 'Account' : 'Sign in';
    const out = $('[data-signed-out]');
    const inn = $('[data-signed-in]');
    if (!out || !inn) return;
    out.hidden = !!id;
    inn.hidden = !id;
    if (id) {
      $('[data-member-id]').textContent = id;
      const c = storedConsent();
      $('[data-member-note]').textContent =
        c && c.personalization
          ? 'Your offers and rewards follow you to every device you sign in on.'
          : 'Personalization is off (Privacy settings), so nothing follows you between devices.';
    }
  }
  function accountPage() {
    const form = $('[data-signin-form]');
    if (!form) return;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const email = form.elements.email.value.trim().toLowerCase();
      if (!email || !form.checkValidity()) return form.reportValidity();
      const id = 'u-' + fnv1a(email);
      store('stride.member', id);
      form.reset();
      pz('identify', id);
      showMember();
      $('[data-signed-in]').querySelector('button').focus();
    });
    $('[data-signout]').addEventListener('click', () => {
      store('stride.member', null);
      pz('reset'); // a new anonymous visitor on this browser
      showMember();
      form.elements.email.focus();
    });
  }

  // ---- the consent banner: accept all / reject all / customise ----
  const COOKIE = 'pz_consent';
  const PURPOSES = ['analytics', 'personalization', 'marketing'];
  function storedConsent() {
    const m = document.cookie.match(/(?:^|;\s*)pz_consent=([^;]*)/);
    if (!m) return null;
    try {
      const c = JSON.parse(decodeURIComponent(m[1]));
      return Object.fromEntries(PURPOSES.map((p) => [p, c[p] === true]));
    } catch {
      return null;
    }
  }
  function choose(c) {
    const value = encodeURIComponent(JSON.stringify(c));
    const secure = location.protocol === 'https:' ? '; Secure' : '';
    document.cookie = `${COOKIE}=${value}; Path=/; Max-Age=15552000; SameSite=Lax${secure}`;
    pz('consent', c); // withdrawing personalization erases the profile on this device
    pz('decide'); // personalized slots after an opt-in, the defaults at once after a withdrawal
    showMember();
  }

  let opener = null;
  function banner() {
    let el = $('#consent');
    if (el) return el;
    el = document.createElement('section');
    el.id = 'consent';
    el.className = 'consent';
    el.setAttribute('role', 'dialog');
    el.setAttribute('aria-labelledby', 'consent-title');
    el.setAttribute('aria-describedby', 'consent-desc');
    el.innerHTML = `
      <h2 id="consent-title" tabindex="-1">Your privacy choices</h2>
      <p id="consent-desc">We would like to use what you browse here to tailor offers and
        recommendations, and to count visits and orders. Nothing about you is stored or sent
        until you choose, and you can change your mind at any time under Privacy settings at the
        bottom of every page.</p>
      <form data-consent-form hidden>
        <fieldset>
          <legend>Choose what you allow</legend>
          <label><input type="checkbox" checked disabled />
            <span><strong>Necessary</strong>: your cart and sign-in. Always on.</span></label>
          <label><input type="checkbox" name="analytics" />
            <span><strong>Analytics</strong>: count visits and orders to improve the
              shop.</span></label>
          <label><input type="checkbox" name="personalization" />
            <span><strong>Personalization</strong>: offers and recommendations based on what you
              browse, kept on this device and on our server.</span></label>
          <label><input type="checkbox" name="marketing" />
            <span><strong>Marketing</strong>: offers by email and on other sites.</span></label>
        </fieldset>
      </form>
      <div class="consent-actions">
        <button type="button" class="btn btn-secondary" data-choice="customise"
          aria-expanded="false">Customize</button>
        <button type="button" class="btn" data-choice="save" hidden>Save my choices</button>
        <button type="button" class="btn" data-choice="reject">Reject all</button>
        <button type="button" class="btn" data-choice="accept">Accept all</button>
      </div>`;
    document.body.append(el);
    const form = $('[data-consent-form]', el);
    const customise = $('[data-choice="customise"]', el);
    const save = $('[data-choice="save"]', el);
    const all = (v) => Object.fromEntries(PURPOSES.map((p) => [p, v]));
    const close = () => {
      el.hidden = true;
      if (opener) opener.focus();
      opener = null;
    };
    el.showOptions = (open) => {
      form.hidden = !open;
      save.hidden = !open;
      customise.setAttribute('aria-expanded', String(open));
      if (open) {
        const c = storedConsent() || {};
        for (const p of PURPOSES) form.elements[p].checked = c[p] === true;
      }
    };
    el.addEventListener('click', (e) => {
      const b = e.target.closest('[data-choice]');
      if (!b) return;
      const what = b.dataset.choice;
      if (what === 'customise') {
        el.showOptions(form.hidden);
        return;
      }
      if (what === 'accept') choose(all(true));
      else if (what === 'reject') choose(all(false));
      else choose(Object.fromEntries(PURPOSES.map((p) => [p, form.elements[p].checked])));
      close();
    });
    form.addEventListener('submit', (e) => e.preventDefault());
    el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && storedConsent()) close();
    });
    return el;
  }
  /** Shows the banner; from the Privacy settings link with the options open and focused. */
  function openBanner(fromLink) {
    const el = banner();
    el.showOptions(fromLink);
    el.hidden = false;
    if (fromLink) $('#consent-title').focus();
  }

  function start() {
    showCount();
    showMember();
    productPage();
    cartPage();
    checkoutPage();
    accountPage();
    for (const b of $$('[data-consent-open]')) {
      b.addEventListener('click', () => {
        opener = b;
        openBanner(true);
      });
    }
    if (!storedConsent()) openBanner(false);
    if (window.pzDebug) {
      const s = document.createElement('script');
      s.src = '/assets/debug.js';
      document.head.append(s);
    }
  }
  start();
})();
