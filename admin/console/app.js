// loginguard web console. Plain JavaScript, no dependencies. Every value that
// comes from the API is put in the page with textContent or as an attribute
// value (never parsed as markup), and the Content-Security-Policy allows no inline
// script or style.
'use strict';

(function () {
  const TOKEN_KEY = 'loginguard.token';
  const $ = (id) => document.getElementById(id);
  let scope = null; // "read" | "admin" once signed in

  // ---- DOM helpers -------------------------------------------------------

  // el builds an element; attrs are attributes (on* handlers are not allowed:
  // use listen), children are nodes or strings (text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v; else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) if (c) e.appendChild(c);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function pad(n) { return String(n).padStart(2, '0'); }
  // fmtDate formats a date as YYYY-MM-DD HH:mm:ss in UTC.
  function fmtDate(v) {
    if (!v) return '';
    const d = new Date(v);
    if (isNaN(d)) return String(v);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
  }
  function ymd(d) { return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()); }
  function identity(e) { return e.email || e.principal || ''; }
  function statusOf(e) {
    if (e.eventType === 'LOGIN_SUCCESS') return 'SUCCESS';
    if (e.eventType === 'LOGIN_FAILURE') return 'FAILURE';
    return e.eventType || '';
  }
  function badge(text, cls) { return el('span', { class: 'badge ' + (cls || text), 'data-status': text }, text); }
  function fmtNum(n) { return Number(n || 0).toLocaleString('en-US'); }
  // cityRegion is the known parts of an event's location before its country:
  // City, then the region (its code when there is one).
  function cityRegion(e) { return [e.city, e.regionCode || e.region].filter(Boolean); }
  // place is an event's location as "City, Region, CC", the parts that are known.
  function place(e) { return cityRegion(e).concat(e.country ? [e.country] : []).join(', '); }
  function asLabel(asn) { return 'AS' + asn; }
  // network is an event's autonomous system: "AS64496 Example Hosting B.V.".
  function network(e) { return [e.asn ? asLabel(e.asn) : '', e.asOrg || ''].filter(Boolean).join(' '); }
  // device is what an event's user agent says the client is: "Firefox, Linux, desktop".
  function device(e) { return [e.browser, e.os, e.deviceType].filter(Boolean).join(', '); }
  // joined separates strings and nodes with ", " (as children of el).
  function joined(items) { return items.flatMap((x, i) => (i ? [', ', x] : [x])); }
  function botBadge() { return el('span', { class: 'badge bad bot', title: 'Not a person\'s browser: a crawler, a script or an attack tool' }, 'BOT'); }
  // flagBadges are the marks of what an attempt carries beyond its status: a
  // refusal a route in monitor mode did not make (wouldRefuse) and a
  // breached password.
  function flagBadges(e) {
    const out = [];
    if (e.wouldRefuse) {
      out.push(' ', el('span', { class: 'badge monitor would-refuse', 'data-reason': e.wouldRefuse,
        title: 'Monitor mode: enforce mode would have refused this attempt (' + e.wouldRefuse + '); it went on to the portal' }, 'WOULD REFUSE'));
    }
    if (e.passwordBreached) {
      out.push(' ', el('span', { class: 'badge bad breached', title: 'The password is in a set of breached passwords' }, 'BREACHED PASSWORD'));
    }
    return out;
  }
  // countryName is the English name of an ISO 3166-1 alpha-2 code, or the
  // code when the browser does not know it.
  const regionNames = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames(['en'], { type: 'region' }) : null;
  function countryName(cc) {
    try { const n = regionNames && regionNames.of(cc); return n && n !== cc ? n : cc; } catch (_) { return cc; }
  }

  // ---- API ---------------------------------------------------------------

  class APIError extends Error {
    constructor(status, body) {
      super((body && body.message) || ('HTTP ' + status));
      this.status = status;
    }
  }
  function token() { return sessionStorage.getItem(TOKEN_KEY); }
  async function api(path, opts) {
    opts = opts || {};
    const headers = { 'Authorization': 'Bearer ' + token() };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.accept) headers['Accept'] = opts.accept;
    const resp = await fetch(path, {
      method: opts.method || 'GET', headers, cache: 'no-store', credentials: 'omit',
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
    if (opts.raw && resp.ok) return resp;
    let body = null;
    try { body = await resp.json(); } catch (_) { body = null; }
    if (!resp.ok) {
      if (resp.status === 401) signOut('Your token was refused: ' + ((body && body.message) || 'unauthorized'));
      throw new APIError(resp.status, body);
    }
    return body;
  }
  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) u.set(k, v);
    return u.toString();
  }
  function showError(where, err) {
    clear(where).appendChild(el('p', { class: 'error', role: 'alert' }, String(err && err.message || err)));
  }

  // ---- sign-in -----------------------------------------------------------

  async function signIn(tok) {
    sessionStorage.setItem(TOKEN_KEY, tok);
    try {
      const me = await api('api/v1/whoami');
      scope = me.scope;
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      scope = null;
      throw err;
    }
  }
  function signOut(msg) {
    sessionStorage.removeItem(TOKEN_KEY);
    scope = null;
    $('signin-error').textContent = msg || '';
    render();
  }

  // ---- routing: #/page?filters ---------------------------------------------

  function route() {
    const h = location.hash.replace(/^#\/?/, '');
    const [page, query] = h.split('?');
    return { page: page || 'dashboard', params: new URLSearchParams(query || '') };
  }
  function go(page, params) {
    const q = params ? qs(params) : '';
    const h = '#/' + page + (q ? '?' + q : '');
    if (location.hash === h) render(); else location.hash = h;
  }

  async function render() {
    const signed = !!token();
    $('signin').hidden = signed;
    $('nav').hidden = !signed;
    $('signout').hidden = !signed;
    $('drawer').hidden = true;
    const view = clear($('view'));
    document.body.setAttribute('data-scope', scope || '');
    if (!signed) { $('who').textContent = ''; return; }
    if (!scope) {
      try { await signIn(token()); } catch (err) { signOut(err.message); return; }
    }
    $('who').textContent = 'token scope: ' + scope;
    const r = route();
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === r.page);
    const pages = { dashboard: dashboardPage, logs: logsPage, users: usersPage, lockouts: lockoutsPage };
    (pages[r.page] || dashboardPage)(view, r.params);
  }

  // ---- Login Logs ----------------------------------------------------------

  const FILTERS = ['from', 'to', 'email', 'principal', 'ip', 'status', 'reason', 'source', 'portalId', 'country', 'asn', 'deviceType',
    'wouldRefuse', 'breached'];
  const REASONS = ['BAD_CREDENTIALS', 'ACCOUNT_NOT_FOUND', 'DISABLED', 'WAITING_FOR_APPROVEMENT', 'CONFIRMATION_NEEDED',
    'REJECTED', 'NOT_APPROVED', 'MFA_REQUIRED', 'MFA_FAILED', 'LOCKED', 'RATE_LIMITED', 'UPSTREAM_ERROR', 'UNKNOWN',
    'AMBIGUOUS_PRINCIPAL', 'MISSING_PRINCIPAL', 'BREACHED_PASSWORD'];
  // REFUSALS are the reasons of the gateway's refusals (logstore.RefusalReasons):
  // the values of the wouldRefuse filter beside true (any of them).
  const REFUSALS = ['LOCKED', 'RATE_LIMITED', 'AMBIGUOUS_PRINCIPAL', 'MISSING_PRINCIPAL', 'BREACHED_PASSWORD'];
  // DEVICE_TYPES are the values of the deviceType filter (event.Device*).
  const DEVICE_TYPES = ['desktop', 'mobile', 'tablet', 'tv', 'bot'];

  function select(id, label, options, value) {
    const s = el('select', { id, name: id });
    for (const [v, t] of options) s.appendChild(el('option', { value: v, selected: v === value }, t));
    return el('label', {}, label, s);
  }
  function input(id, label, value, type) {
    return el('label', {}, label, el('input', { id, name: id, type: type || 'text', value: value || '' }));
  }

  function logsPage(view, params) {
    const p = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || '']));
    const page = Math.max(0, parseInt(params.get('page') || '0', 10) || 0);
    const size = parseInt(params.get('size') || '20', 10) || 20;
    const now = new Date();
    const form = el('form', { id: 'filters', class: 'filters card' },
      input('f-from', 'From (YYYY-MM-DD)', p.from || ymd(new Date(now - 30 * 864e5))),
      input('f-to', 'To (YYYY-MM-DD)', p.to || ymd(now)),
      input('f-email', 'Email (exact)', p.email),
      input('f-principal', 'Principal', p.principal),
      input('f-ip', 'IP address', p.ip),
      select('f-status', 'Status', [['', 'Any'], ['SUCCESS', 'SUCCESS'], ['FAILURE', 'FAILURE']], p.status),
      select('f-reason', 'Reason', [['', 'Any']].concat(REASONS.map((r) => [r, r])), p.reason),
      select('f-source', 'Source', [['', 'Any'], ['API_PORTAL', 'API_PORTAL'], ['API_MANAGER', 'API_MANAGER']], p.source),
      input('f-portal', 'Portal', p.portalId),
      input('f-country', 'Country (ISO code)', p.country),
      input('f-asn', 'AS number', p.asn),
      select('f-device', 'Device type', [['', 'Any']].concat(DEVICE_TYPES.map((d) => [d, d])), p.deviceType),
      select('f-would', 'Would have been refused (monitor mode)', [['', 'Any event'], ['true', 'Yes, for any reason']]
        .concat(REFUSALS.map((r) => [r, 'Yes, ' + r])), p.wouldRefuse),
      select('f-breached', 'Password', [['', 'Any'], ['true', 'Breached passwords only']], p.breached),
      el('button', { type: 'submit', class: 'primary', id: 'f-apply' }, 'Apply'),
      el('button', { type: 'button', id: 'f-reset' }, 'Reset'));
    const advice = el('p', { class: 'hint', id: 'range-advice' },
      'Without a date range the last 30 days are shown. A range of at most 90 days is recommended for performance; longer ranges are paged.');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = (id) => form.querySelector('#' + id).value.trim();
      go('logs', { from: v('f-from'), to: v('f-to'), email: v('f-email'), principal: v('f-principal'), ip: v('f-ip'),
        status: v('f-status'), reason: v('f-reason'), source: v('f-source'), portalId: v('f-portal'),
        country: v('f-country').toUpperCase(), asn: v('f-asn'), deviceType: v('f-device'), wouldRefuse: v('f-would'),
        breached: v('f-breached'), size: size === 20 ? '' : size });
    });
    form.querySelector('#f-reset').addEventListener('click', () => go('logs'));
    const status = el('span', { id: 'logs-total', class: 'grow' }, 'Loading…');
    const exportBtn = el('button', { type: 'button', id: 'export-csv' }, 'Export CSV');
    const tbody = el('tbody', { id: 'logs-body' });
    const table = el('table', { id: 'logs-table' },
      el('thead', {}, el('tr', {}, ['Status', 'Email', 'Account Name', 'Date (UTC)', 'IP Address', 'Location', 'Network', 'Device', 'Message', 'Source', 'Portal'].map((h) => el('th', {}, h)))),
      tbody);
    const prev = el('button', { type: 'button', id: 'page-prev', disabled: page === 0 }, '‹ Previous');
    const next = el('button', { type: 'button', id: 'page-next', disabled: true }, 'Next ›');
    const pageInfo = el('span', { id: 'page-info' }, '');
    const sizeSel = el('select', { id: 'page-size' }, [10, 20, 50, 100].map((n) => el('option', { value: n, selected: n === size }, n + ' per page')));
    const pager = el('div', { class: 'pager' }, prev, pageInfo, next, sizeSel);
    view.append(el('h1', {}, 'Login Logs'), form, advice,
      el('div', { class: 'toolbar' }, status, exportBtn), table, pager);

    const query = {};
    for (const k of FILTERS) if (p[k]) query[k] = p[k];
    if (!query.from && !query.to) delete query.from;
    const days = query.from && query.to ? (new Date(query.to) - new Date(query.from)) / 864e5 : 0;
    if (days > 90) advice.classList.add('error');
    const nav = (n) => { const q = Object.assign({}, p, { page: n || '', size: size === 20 ? '' : size }); go('logs', q); };
    prev.addEventListener('click', () => nav(page - 1));
    next.addEventListener('click', () => nav(page + 1));
    sizeSel.addEventListener('change', () => { const q = Object.assign({}, p, { size: sizeSel.value }); go('logs', q); });
    exportBtn.addEventListener('click', () => exportCSV(query, exportBtn));

    const t0 = performance.now();
    api('api/v1/login-logs?' + qs(Object.assign({}, query, { page, size }))).then((res) => {
      clear(tbody);
      if (res.empty) tbody.appendChild(el('tr', {}, el('td', { colspan: 11, class: 'empty' }, 'No login events match these filters.')));
      for (const e of res.content) tbody.appendChild(logRow(e, p));
      status.textContent = fmtNum(res.totalElements) + (res.totalElements === 1 ? ' event' : ' events');
      status.setAttribute('data-total', res.totalElements);
      pageInfo.textContent = 'Page ' + (res.number + 1) + ' of ' + Math.max(1, res.totalPages);
      next.disabled = res.last;
      table.setAttribute('data-loaded', String(performance.now() - t0));
      table.setAttribute('data-shown', String(performance.now()));
    }).catch((err) => showError(status, err));
  }

  function logRow(e, p) {
    const st = statusOf(e);
    const who = identity(e);
    const filterLink = (text, key, value, cls) => {
      const b = el('button', { type: 'button', class: 'link ' + cls, title: 'Show only ' + value }, text);
      b.addEventListener('click', (ev) => {
        ev.stopPropagation();
        go('logs', Object.assign({}, p, { [key]: value, page: '' }));
      });
      return b;
    };
    const tr = el('tr', { class: 'clickable', 'data-id': e.id },
      el('td', { class: 'status' }, badge(st, st === 'SUCCESS' || st === 'FAILURE' ? st : 'other'), flagBadges(e)),
      el('td', { class: 'who' }, who ? filterLink(who, e.email ? 'email' : 'principal', who, 'email-link') : ''),
      el('td', {}, e.displayName || ''),
      el('td', { class: 'date' }, fmtDate(e.eventDate)),
      el('td', {}, e.remoteAddress ? filterLink(e.remoteAddress, 'ip', e.remoteAddress, 'ip-link') : ''),
      el('td', { class: 'geo' }, joined(cityRegion(e).concat(e.country ? [filterLink(e.country, 'country', e.country, 'country-link')] : []))),
      el('td', { class: 'net' }, e.asn ? filterLink(asLabel(e.asn), 'asn', String(e.asn), 'asn-link') : null,
        e.asn && e.asOrg ? ' ' : null, e.asOrg ? el('span', { class: 'org' }, e.asOrg) : null),
      el('td', { class: 'device' }, joined([e.browser, e.os].filter(Boolean).concat(
        e.deviceType ? [filterLink(e.deviceType, 'deviceType', e.deviceType, 'device-link')] : [])), e.bot ? [' ', botBadge()] : null),
      el('td', { class: 'msg' }, e.message || ''),
      el('td', {}, e.source || ''),
      el('td', {}, e.portalId || ''));
    tr.tabIndex = 0;
    tr.addEventListener('click', () => showEvent(e.id));
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' && ev.target === tr) showEvent(e.id); });
    return tr;
  }

  async function showEvent(id) {
    const body = clear($('drawer-body'));
    $('drawer-title').textContent = 'Login event';
    $('drawer').hidden = false;
    let e;
    try { e = await api('api/v1/login-logs/' + encodeURIComponent(id)); } catch (err) { showError(body, err); return; }
    const fields = ['id', 'seq', 'eventType', 'eventDate', 'source', 'email', 'principal', 'displayName', 'accountId',
      'portalId', 'remoteAddress', 'message', 'errorType', 'reason', 'wouldRefuse', 'passwordBreached', 'failureCount', 'userAgent', 'host', 'path', 'traceId'];
    const dl = el('dl', { class: 'fields', id: 'event-fields' });
    const seen = new Set();
    const add = (k, v) => {
      seen.add(k);
      let text = v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      if (k === 'eventDate') text = fmtDate(v) + ' UTC (' + v + ')';
      if (k === 'wouldRefuse' && v) text = v + ' (monitor mode: not refused, the attempt went on to the portal)';
      if (k === 'passwordBreached') text = v ? 'yes: the password is in a set of breached passwords' : 'no';
      dl.append(el('dt', {}, k), el('dd', { 'data-field': k }, text));
    };
    // summary adds a line made of an event's fields (their own lines follow
    // the listed fields): its location, network and device.
    const summary = (k, text, ...extra) =>
      dl.append(el('dt', { class: 'summary' }, k), el('dd', { 'data-field': k, class: 'summary' }, text || '—', ...extra));
    for (const k of fields) {
      add(k, e[k]);
      if (k === 'remoteAddress') {
        summary('location', place(e));
        summary('network', network(e));
        summary('device', device(e), e.bot ? [' ', botBadge()] : null);
      }
    }
    for (const k of Object.keys(e)) if (!seen.has(k)) add(k, e[k]);
    const who = identity(e);
    const hist = el('div', { id: 'event-history' }, el('p', { class: 'hint' }, 'Loading…'));
    body.append(dl, el('h2', {}, 'Recent history of ' + (who || 'this identity')), hist);
    if (!who) { clear(hist); return; }
    try {
      const key = e.email ? 'email' : 'principal';
      const res = await api('api/v1/login-logs?' + qs({ [key]: who, size: 10, from: ymd(new Date(Date.now() - 90 * 864e5)) }));
      const tb = el('tbody', {});
      for (const h of res.content) {
        const st = statusOf(h);
        tb.appendChild(el('tr', {}, el('td', {}, badge(st, st === 'SUCCESS' || st === 'FAILURE' ? st : 'other'), flagBadges(h)),
          el('td', {}, fmtDate(h.eventDate)), el('td', {}, h.remoteAddress || ''), el('td', { class: 'msg' }, h.message || '')));
      }
      clear(hist).append(el('table', {}, el('thead', {}, el('tr', {}, ['Status', 'Date', 'IP', 'Message'].map((x) => el('th', {}, x)))), tb),
        el('p', { class: 'hint' }, fmtNum(res.totalElements) + ' events in the last 90 days'));
    } catch (err) { showError(hist, err); }
  }

  async function exportCSV(query, btn) {
    btn.disabled = true;
    try {
      const resp = await api('api/v1/login-logs?' + qs(Object.assign({}, query, { format: 'csv' })), { raw: true, accept: 'text/csv' });
      const blob = await resp.blob();
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: 'login-logs-' + ymd(new Date()) + '.csv' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      btn.setAttribute('data-exported', String(blob.size));
    } catch (err) {
      alertBox(err);
    } finally { btn.disabled = false; }
  }
  function alertBox(err) {
    const v = $('view');
    v.insertBefore(el('p', { class: 'error', role: 'alert' }, String(err.message || err)), v.firstChild);
  }

  // ---- Users ---------------------------------------------------------------

  function usersPage(view, params) {
    const search = params.get('search') || '';
    const page = Math.max(0, parseInt(params.get('page') || '0', 10) || 0);
    const form = el('form', { class: 'filters card', id: 'users-filter' },
      input('u-search', 'Search (part of the identity)', search), el('button', { type: 'submit', class: 'primary' }, 'Search'));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); go('users', { search: form.querySelector('#u-search').value.trim() }); });
    const tbody = el('tbody', { id: 'users-body' });
    const info = el('span', { id: 'users-total' }, 'Loading…');
    const prev = el('button', { type: 'button', disabled: page === 0 }, '‹ Previous');
    const next = el('button', { type: 'button', disabled: true }, 'Next ›');
    prev.addEventListener('click', () => go('users', { search, page: page - 1 || '' }));
    next.addEventListener('click', () => go('users', { search, page: page + 1 }));
    view.append(el('h1', {}, 'Users'), form,
      el('table', { id: 'users-table' }, el('thead', {}, el('tr', {},
        ['Identity', 'Name', 'Source', 'Status', 'Last login', 'Last logout', 'Last failure', 'Last IP', 'Failures since success',
          'Breached-password attempts (successful)'].map((h) => el('th', {}, h)))), tbody),
      el('div', { class: 'pager' }, prev, info, next));
    api('api/v1/users?' + qs({ search, page, size: 50 })).then((res) => {
      for (const u of res.content) {
        const tr = el('tr', { class: 'clickable', 'data-identity': u.identity },
          el('td', {}, u.identity), el('td', {}, u.displayName || ''), el('td', {}, u.source || ''),
          el('td', {}, badge(u.status || 'UNKNOWN', u.status || 'other')),
          el('td', {}, fmtDate(u.lastLogin)), el('td', {}, fmtDate(u.lastLogout)), el('td', {}, fmtDate(u.lastFailure)),
          el('td', {}, u.lastIp || ''), el('td', {}, String(u.failuresSinceSuccess || 0)),
          el('td', { class: 'breached' + (u.breachedSuccesses ? ' bad' : ''), 'data-attempts': u.breachedAttempts || 0, 'data-successes': u.breachedSuccesses || 0 },
            u.breachedAttempts ? fmtNum(u.breachedAttempts) + ' (' + fmtNum(u.breachedSuccesses || 0) + ')' : ''));
        tr.addEventListener('click', () => go('logs', {
          [u.source === 'API_MANAGER' ? 'principal' : 'email']: u.identity,
          from: ymd(new Date(Date.now() - 90 * 864e5)) }));
        tbody.appendChild(tr);
      }
      if (res.empty) tbody.appendChild(el('tr', {}, el('td', { colspan: 10, class: 'empty' }, 'No users.')));
      info.textContent = fmtNum(res.totalElements) + ' users · page ' + (res.number + 1) + ' of ' + Math.max(1, res.totalPages);
      next.disabled = res.last;
    }).catch((err) => showError(info, err));
  }

  // ---- Lockouts ------------------------------------------------------------

  function lockoutsPage(view) {
    const admin = scope === 'admin';
    const accBody = el('tbody', { id: 'locked-accounts' });
    const ipBody = el('tbody', { id: 'blocked-ips' });
    const msg = el('p', { id: 'lockouts-msg', role: 'status' });
    view.append(el('h1', {}, 'Lockouts'), msg);
    if (admin) {
      const lockForm = el('form', { class: 'filters card', id: 'lock-form' },
        input('lock-principal', 'Account (principal or email)', ''), input('lock-duration', 'Duration (e.g. 15m; empty: default)', ''),
        el('button', { type: 'submit', class: 'danger' }, 'Lock account'));
      const blockForm = el('form', { class: 'filters card', id: 'block-form' },
        input('block-ip', 'IP or CIDR', ''), input('block-duration', 'Duration (e.g. 1h; empty: default)', ''),
        input('block-force', 'Force (a range wider than /16 or /48, or your own address)', '', 'checkbox'),
        el('button', { type: 'submit', class: 'danger' }, 'Block IP'));
      lockForm.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const principal = lockForm.querySelector('#lock-principal').value.trim();
        const duration = lockForm.querySelector('#lock-duration').value.trim();
        if (!principal || !confirm('Lock the account ' + principal + '?')) return;
        act(api('api/v1/lockouts/accounts', { method: 'POST', body: { principal, duration } }), 'Locked ' + principal);
      });
      blockForm.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const ip = blockForm.querySelector('#block-ip').value.trim();
        const duration = blockForm.querySelector('#block-duration').value.trim();
        if (!ip || !confirm('Block ' + ip + '?')) return;
        const force = blockForm.querySelector('#block-force').checked;
        const body = ip.includes('/') ? { cidr: ip, duration, force } : { ip, duration, force };
        act(api('api/v1/lockouts/ips', { method: 'POST', body }), 'Blocked ' + ip);
      });
      view.append(el('div', { class: 'grid' }, lockForm, blockForm));
    } else {
      view.append(el('p', { class: 'hint', id: 'read-only' }, 'Your token has read scope: locking and unlocking need an admin token.'));
    }
    view.append(el('div', { class: 'grid' },
      el('div', { class: 'card' }, el('h2', {}, 'Locked accounts'), el('table', {}, el('thead', {}, el('tr', {},
        ['Account', 'Failures', 'Locked at', 'Locked until', 'Kind', ''].map((h) => el('th', {}, h)))), accBody)),
      el('div', { class: 'card' }, el('h2', {}, 'Blocked IPs'), el('table', {}, el('thead', {}, el('tr', {},
        ['IP range', 'Blocked until', ''].map((h) => el('th', {}, h)))), ipBody))));

    // lockedAt fills in when the account was locked: its newest ACCOUNT_LOCKED event.
    function lockedAt(account, td) {
      const key = account.includes('@') ? 'email' : 'principal';
      api('api/v1/login-logs?' + qs({ eventType: 'ACCOUNT_LOCKED', [key]: account, size: 1, from: ymd(new Date(Date.now() - 90 * 864e5)) }))
        .then((res) => { td.textContent = res.content.length ? fmtDate(res.content[0].eventDate) : 'unknown'; })
        .catch(() => { td.textContent = 'unknown'; });
    }
    function act(promise, done) {
      promise.then(() => { msg.className = ''; msg.textContent = done; load(); })
        .catch((err) => { msg.className = 'error'; msg.textContent = err.message; });
    }
    function load() {
      api('api/v1/lockouts').then((res) => {
        clear(accBody); clear(ipBody);
        for (const a of res.accounts) {
          const b = admin ? el('button', { type: 'button', class: 'unlock', 'data-account': a.account }, 'Unlock') : null;
          if (b) b.addEventListener('click', () => {
            if (!confirm('Unlock the account ' + a.account + '?')) return;
            act(api('api/v1/lockouts/accounts/' + encodeURIComponent(a.account), { method: 'DELETE' }), 'Unlocked ' + a.account);
          });
          const since = el('td', { class: 'locked-at' }, '…');
          accBody.appendChild(el('tr', { 'data-account': a.account }, el('td', {}, a.account), el('td', {}, String(a.failures)), since,
            el('td', {}, a.permanent ? 'until unlocked' : fmtDate(a.lockedUntil)), el('td', {}, a.adminLock ? 'admin lock' : 'failures'), el('td', {}, b)));
          lockedAt(a.account, since);
        }
        if (!res.accounts.length) accBody.appendChild(el('tr', {}, el('td', { colspan: 6, class: 'empty' }, 'No locked accounts.')));
        for (const ip of res.ips) {
          const b = admin ? el('button', { type: 'button', class: 'unblock', 'data-cidr': ip.cidr }, 'Unblock') : null;
          if (b) b.addEventListener('click', () => {
            if (!confirm('Unblock ' + ip.cidr + '?')) return;
            act(api('api/v1/lockouts/ips/' + encodeURIComponent(ip.cidr), { method: 'DELETE' }), 'Unblocked ' + ip.cidr);
          });
          ipBody.appendChild(el('tr', { 'data-cidr': ip.cidr }, el('td', {}, ip.cidr),
            el('td', {}, ip.permanent ? 'until unblocked' : fmtDate(ip.until)), el('td', {}, b)));
        }
        if (!res.ips.length) ipBody.appendChild(el('tr', {}, el('td', { colspan: 3, class: 'empty' }, 'No blocked IPs.')));
        accBody.setAttribute('data-loaded', '1');
      }).catch((err) => { msg.className = 'error'; msg.textContent = err.message; });
    }
    load();
  }

  // ---- Dashboard -------------------------------------------------------------

  function dashboardPage(view, params) {
    const days = parseInt(params.get('days') || '30', 10) || 30;
    const sel = el('select', { id: 'dash-days' }, [[1, 'Last 24 hours'], [7, 'Last 7 days'], [30, 'Last 30 days'], [90, 'Last 90 days']]
      .map(([v, t]) => el('option', { value: v, selected: v === days }, t)));
    sel.addEventListener('change', () => go('dashboard', { days: sel.value === '30' ? '' : sel.value }));
    const totals = el('div', { class: 'totals', id: 'totals' });
    const box = (id, title) => el('div', { class: 'card', id }, el('h2', {}, title), el('p', { class: 'hint' }, 'Loading…'));
    const series = box('chart-series', 'Attempts over time');
    series.classList.add('wide');
    const reasons = box('chart-reasons', 'Failure reasons');
    const hours = box('chart-hours', 'Attempts by hour of day (UTC)');
    const users = box('chart-users', 'Most active users');
    const ips = box('chart-ips', 'Top failing IPs');
    const susp = box('suspicious', 'Suspicious activity (last 24 hours)');
    const conns = box('connectors', 'Connector health');
    view.append(el('div', { class: 'toolbar' }, el('h1', { class: 'grow' }, 'Dashboard'), sel), totals,
      el('div', { class: 'grid' }, series, reasons, hours, users, ips, susp, conns));
    const t0 = performance.now();
    const from = new Date(Date.now() - days * 864e5).toISOString().replace(/\.\d+Z$/, 'Z');
    const geo = geoPanels(view, from);
    const st = api('api/v1/stats?' + qs({ from, interval: days <= 2 ? 'hour' : 'day' })).then((s) => {
      const card = (id, label, value) => el('div', { class: 'card', id }, el('div', { class: 'hint' }, label), el('div', { class: 'num' }, value));
      // Attempts as the stats API counts them: every login request that reached
      // loginguard, a sampled refusal for all it stands for; refused ones are
      // failures, shown apart too.
      clear(totals).append(card('total-attempts', 'Attempts', fmtNum(s.total)), card('total-successes', 'Successes', fmtNum(s.successes)),
        card('total-failures', 'Failures', fmtNum(s.failures)), card('total-refused', 'Of which refused by the gateway', fmtNum(s.refused || 0)),
        card('success-rate', 'Success rate', (100 * s.successRate).toFixed(1) + '%'));
      // Beside the refusals made: those a route in monitor mode would have
      // made (failures too, the attempts went on to the portal), and the
      // attempts with a breached password, successful ones apart. Each card
      // opens the log search of what it counts.
      const link = (id, label, value, search) => {
        const a = el('a', { href: '#/logs?' + qs(Object.assign({ from }, search)), title: 'Show these login events' }, value);
        return el('div', { class: 'card flag', id }, el('div', { class: 'hint' }, label), el('div', { class: 'num' }, a));
      };
      totals.append(link('total-would-refuse', 'Would have been refused (monitor mode)', fmtNum(s.wouldRefuse || 0), { wouldRefuse: 'true' }),
        link('total-breached', 'Attempts with a breached password', fmtNum(s.breached || 0), { breached: 'true' }),
        link('total-breached-successes', 'Successful logins with a breached password', fmtNum(s.breachedSuccesses || 0), { breached: 'true', status: 'SUCCESS' }));
      totals.setAttribute('data-total', s.total);
      totals.setAttribute('data-successes', s.successes);
      totals.setAttribute('data-failures', s.failures);
      totals.setAttribute('data-refused', s.refused || 0);
      totals.setAttribute('data-would-refuse', s.wouldRefuse || 0);
      totals.setAttribute('data-breached', s.breached || 0);
      totals.setAttribute('data-breached-successes', s.breachedSuccesses || 0);
      fill(series, seriesChart(s.series, s.interval), legend(true));
      fill(reasons, barChart(s.byReason.map((r) => [r.reason, r.count]), 'bad'));
      fill(hours, hourChart(s.byHour));
      fill(users, barChart(s.topUsers.map((u) => [u.key, u.count]), 'bar'));
      fill(ips, barChart(s.topIps.map((u) => [u.key, u.count]), 'bad'));
      geo.show(s);
    }).catch((err) => showError(totals, err));
    const su = api('api/v1/suspicious?' + qs({ window: '24h' })).then((s) => {
      const rows = [];
      for (const x of s.failingIps || []) rows.push(['IP with many failures', x.ip, x.failures + ' failures, ' + x.accounts + ' accounts', x.last]);
      for (const x of s.attackedAccounts || []) rows.push(['Account attacked from many IPs', x.identity, x.failures + ' failures from ' + x.ips + ' IPs', x.last]);
      for (const x of s.sprayingIps || []) rows.push(['IP trying many accounts', x.ip, x.accounts + ' accounts, ' + x.failures + ' failures', x.last]);
      fill(susp, rows.length ? el('table', {}, el('thead', {}, el('tr', {}, ['Kind', 'Who', 'What', 'Last'].map((h) => el('th', {}, h)))),
        el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {}, r[0]), el('td', {}, r[1]), el('td', {}, r[2]), el('td', {}, fmtDate(r[3]))))))
        : el('p', { class: 'empty' }, 'Nothing suspicious.'));
    }).catch((err) => showError(susp, err));
    const co = api('api/v1/connectors').then((c) => {
      const list = c.connectors || [];
      fill(conns, list.length ? el('table', {}, el('thead', {}, el('tr', {}, ['Connector', 'State', 'Queued', 'Delivered', 'Failed', 'Dropped', 'Last error'].map((h) => el('th', {}, h)))),
        el('tbody', {}, list.map((x) => el('tr', { 'data-connector': x.name }, el('td', {}, x.name),
          el('td', {}, badge(x.active ? 'ACTIVE' : 'INACTIVE', x.active ? 'ok' : 'bad')), el('td', {}, String(x.queued)),
          el('td', {}, fmtNum(x.delivered)), el('td', {}, fmtNum(x.failed)), el('td', {}, fmtNum(x.dropped)),
          el('td', { class: 'msg' }, x.lastError ? x.lastError + ' (' + fmtDate(x.lastErrorAt) +
            (x.deliveredSinceError ? '; delivered since, at ' + fmtDate(x.lastDeliveredAt) : '; not delivered since') + ')' : '')))))
        : el('p', { class: 'empty' }, 'No connectors configured.'));
    }).catch((err) => showError(conns, err));
    Promise.allSettled([st, su, co]).then(() => {
      view.setAttribute('data-rendered', String(performance.now() - t0));
      view.setAttribute('data-shown', String(performance.now()));
    });
  }
  // geoPanels adds to view the panels of the stats answer's breakdowns by
  // where and what the clients are: attempts by country, failures by
  // autonomous system (hosting networks are where credential stuffing
  // usually comes from) and attempts by device type. show fills them in from
  // the stats answer. Each row links to the login-log search of the
  // dashboard's range (from) filtered by its country, AS or device type.
  function geoPanels(view, from) {
    const box = (id, title) => el('div', { class: 'card', id }, el('h2', {}, title), el('p', { class: 'hint' }, 'Loading…'));
    const countries = box('by-country', 'Attempts by country');
    const asns = box('top-asns', 'Top networks of failures');
    const devices = box('by-device', 'Attempts by device type');
    view.append(el('div', { class: 'grid' }, countries, asns, devices));
    const search = (params) => Object.assign({ from }, params);
    return {
      show(s) {
        fill(countries, breakdown('country-table', ['Country', 'Attempts', 'Successes', 'Failures'], (s.byCountry || []).map((c) => ({
          key: c.country, label: countryName(c.country) + ' (' + c.country + ')', search: search({ country: c.country }),
          cells: [c.attempts, c.successes, c.failures], bars: [['ok', c.successes], ['bad', c.failures]],
        }))), legend(), el('p', { class: 'hint' }, 'Attempts from private addresses, or without a GeoIP database, have no country and are not listed.'));
        fill(asns, breakdown('asn-table', ['Network', 'Organisation', 'Failures'], (s.topAsns || []).map((a) => ({
          key: String(a.asn), label: asLabel(a.asn), search: search({ asn: String(a.asn), status: 'FAILURE' }),
          cells: [a.org || '—', a.failures], bars: [['bad', a.failures]],
        }))), el('p', { class: 'hint' }, 'Failed logins per autonomous system. Hosting and cloud networks are the usual source of credential stuffing.'));
        fill(devices, breakdown('device-table', ['Device type', 'Attempts', 'Successes', 'Failures'], (s.byDeviceType || []).map((d) => ({
          key: d.deviceType, label: d.deviceType, search: search({ deviceType: d.deviceType }),
          cells: [d.attempts, d.successes, d.failures], bars: [['ok', d.successes], ['bad', d.failures]],
        }))));
      },
    };
  }
  // breakdown is a table of counts, one row per item: its label links to the
  // login-log search item.search, its cells (numbers are formatted) follow,
  // and a bar of item.bars ([class, count] segments) drawn to the scale of
  // the longest bar ends the row. The bar is decorative: the numbers are in
  // the cells, and screen readers skip it.
  function breakdown(id, heads, items) {
    if (!items.length) return el('p', { class: 'empty', id }, 'No data.');
    const total = (it) => it.bars.reduce((a, b) => a + b[1], 0);
    const max = Math.max(1, ...items.map(total));
    const tb = el('tbody', {});
    for (const it of items) {
      const bar = svg('svg', { class: 'share', viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' });
      let x = 0;
      for (const [cls, n] of it.bars) {
        const w = 100 * n / max;
        if (w > 0) bar.appendChild(svg('rect', { class: cls, x, y: 0, width: w, height: 10 }));
        x += w;
      }
      const link = el('a', { href: '#/logs?' + qs(it.search), title: 'Show these login events' }, it.label);
      const tr = el('tr', { class: 'clickable', 'data-key': it.key },
        el('th', { scope: 'row' }, link),
        it.cells.map((c) => typeof c === 'number' ? el('td', { class: 'num' }, fmtNum(c)) : el('td', {}, c)),
        el('td', { class: 'share' }, bar));
      tr.addEventListener('click', (ev) => { if (ev.target !== link) go('logs', it.search); });
      tb.appendChild(tr);
    }
    return el('table', { id, class: 'breakdown' },
      el('thead', {}, el('tr', {}, heads.map((h, i) => el('th', { scope: 'col', class: typeof items[0].cells[i - 1] === 'number' ? 'num' : null }, h)), el('th', { 'aria-hidden': 'true' }))), tb);
  }
  function fill(box, ...nodes) {
    const h = box.querySelector('h2');
    clear(box).append(h, ...nodes);
  }
  // legend names the colours of the charts; withMonitor adds the series of
  // the refusals a route in monitor mode would have made.
  function legend(withMonitor) {
    return el('div', { class: 'legend' }, el('span', {}, el('span', { class: 'sw ok' }), 'success'), el('span', {}, el('span', { class: 'sw bad' }), 'failure'),
      withMonitor ? el('span', { id: 'legend-would-refuse' }, el('span', { class: 'sw monitor' }), 'would have been refused (monitor mode)') : null);
  }
  // seriesChart draws stacked bars of successes and failures per bucket, and
  // over them the refusals a route in monitor mode would have made as a
  // series of its own: a line with a point per bucket (they are failures
  // too, a part of the red bars).
  function seriesChart(buckets, interval) {
    const W = 1000, H = 220, L = 50, B = 24, n = Math.max(1, buckets.length);
    const max = Math.max(1, ...buckets.map((b) => b.successes + b.failures));
    const bw = (W - L) / n;
    const s = svg('svg', { class: 'chart', id: 'series-svg', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'attempts over time' });
    s.append(svg('line', { class: 'axis', x1: L, y1: H - B, x2: W, y2: H - B }), svg('text', { x: 0, y: 12, text: fmtNum(max) }), svg('text', { x: 0, y: H - B, text: '0' }));
    let total = 0, would = 0;
    const points = [];
    buckets.forEach((b, i) => {
      const x = L + i * bw, hs = (H - B - 10) * b.successes / max, hf = (H - B - 10) * b.failures / max;
      total += b.successes + b.failures;
      would += b.wouldRefuse || 0;
      points.push([x + bw / 2, H - B - (H - B - 10) * (b.wouldRefuse || 0) / max, b]);
      const label = fmtDate(b.start).slice(0, interval === 'hour' ? 16 : 10) + ': ' + b.successes + ' successes, ' + b.failures + ' failures' +
        (b.wouldRefuse ? ', of which ' + b.wouldRefuse + ' would have been refused (monitor mode)' : '') +
        (b.breached ? '; ' + b.breached + ' with a breached password' : '');
      const g = svg('g', { 'data-successes': b.successes, 'data-failures': b.failures, 'data-would-refuse': b.wouldRefuse || 0,
        'data-breached': b.breached || 0 }, svg('title', { text: label }),
        svg('rect', { class: 'ok', x: x + 1, y: H - B - hs, width: Math.max(1, bw - 2), height: hs }),
        svg('rect', { class: 'bad', x: x + 1, y: H - B - hs - hf, width: Math.max(1, bw - 2), height: hf }));
      s.appendChild(g);
      if (i % Math.ceil(n / 8) === 0) s.appendChild(svg('text', { x, y: H - 6, text: fmtDate(b.start).slice(5, interval === 'hour' ? 16 : 10) }));
    });
    const line = svg('g', { class: 'monitor-series', id: 'series-would-refuse', 'data-total': would },
      svg('polyline', { class: 'monitor', points: points.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' ') }));
    for (const [x, y, b] of points) {
      if (b.wouldRefuse) {
        line.appendChild(svg('circle', { class: 'monitor', cx: x.toFixed(1), cy: y.toFixed(1), r: 3, 'data-start': b.start, 'data-count': b.wouldRefuse },
          svg('title', { text: fmtDate(b.start).slice(0, interval === 'hour' ? 16 : 10) + ': ' + b.wouldRefuse + ' would have been refused (monitor mode)' })));
      }
    }
    s.appendChild(line);
    s.setAttribute('data-total', total);
    return s;
  }
  // barChart draws horizontal bars of [label, count] pairs.
  function barChart(rows, cls) {
    if (!rows.length) return el('p', { class: 'empty' }, 'No data.');
    const W = 500, row = 22, LW = 190, H = rows.length * row + 4;
    const max = Math.max(1, ...rows.map((r) => r[1]));
    const s = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img' });
    rows.forEach(([label, count], i) => {
      const y = i * row + 2, w = (W - LW - 60) * count / max;
      const text = String(label).length > 30 ? String(label).slice(0, 29) + '…' : String(label);
      s.append(svg('g', { 'data-label': label, 'data-count': count }, svg('title', { text: label + ': ' + count }),
        svg('text', { x: 0, y: y + 14, text }),
        svg('rect', { class: cls, x: LW, y: y + 3, width: Math.max(1, w), height: row - 8 }),
        svg('text', { x: LW + w + 6, y: y + 14, text: fmtNum(count) })));
    });
    return s;
  }
  function hourChart(byHour) {
    const W = 500, H = 160, B = 18, bw = W / 24;
    const max = Math.max(1, ...byHour);
    const s = svg('svg', { class: 'chart', id: 'hours-svg', viewBox: `0 0 ${W} ${H}`, role: 'img' });
    byHour.forEach((c, h) => {
      const hh = (H - B - 8) * c / max;
      s.append(svg('g', { 'data-hour': h, 'data-count': c }, svg('title', { text: pad(h) + ':00 ' + c + ' attempts' }),
        svg('rect', { class: 'bar', x: h * bw + 1, y: H - B - hh, width: bw - 2, height: hh })));
      if (h % 3 === 0) s.append(svg('text', { x: h * bw, y: H - 4, text: pad(h) }));
    });
    return s;
  }

  // ---- start -------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const tok = $('token').value.trim();
      $('token').value = '';
      try { await signIn(tok); $('signin-error').textContent = ''; render(); } catch (err) { $('signin-error').textContent = err.message; }
    });
    $('signout').addEventListener('click', () => signOut(''));
    $('drawer-close').addEventListener('click', () => { $('drawer').hidden = true; });
    window.addEventListener('hashchange', render);
    render();
  });
})();
