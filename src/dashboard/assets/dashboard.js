// nsup dashboard (browser side): one card per app, filled from the supervisor's status document
// that /api/events pushes once a second, with uPlot charts of the last 15 minutes (the history
// arrives on connect, then one sample a tick). Every value goes in as text (textContent), never
// as HTML. Reload and scale call the API with the token; without a valid one they are disabled.
'use strict';
(() => {
  const WINDOW_S = 15 * 60;
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'text') node.textContent = v;
      else if (k === 'class') node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  };
  const dash = '-';
  const fmt = {
    num: (v, digits = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : dash),
    mb: (v) => (typeof v === 'number' ? `${(v / 1048576).toFixed(1)} MB` : dash),
    pct: (v) => (typeof v === 'number' ? `${v.toFixed(1)} %` : dash),
    ms: (v) => (typeof v === 'number' ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : dash),
    duration(ms) {
      if (typeof ms !== 'number' || ms <= 0) return dash;
      const s = Math.floor(ms / 1000);
      if (s < 60) return `${s}s`;
      if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
      if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
      return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
    },
    time: (iso) => (iso ? new Date(iso).toLocaleTimeString() : dash),
  };

  // ---- the token: from #token=… (then taken out of the address bar) or the field; kept for this tab only.
  const tokenInHash = () => {
    const found = new URLSearchParams(location.hash.slice(1)).get('token');
    if (found !== null) history.replaceState(null, '', location.pathname + location.search);
    return found;
  };
  let token = tokenInHash() || sessionStorage.getItem('nsup-token') || '';
  let authed = false;
  // A #token=… link opened on a page already showing (same document: no reload) counts too.
  window.addEventListener('hashchange', () => {
    const found = tokenInHash();
    if (found === null) return;
    token = found.trim();
    void checkToken();
  });
  async function checkToken() {
    authed = false;
    if (token) {
      const res = await fetch('/api/auth', { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
      authed = res !== null && res.ok;
    }
    if (authed) sessionStorage.setItem('nsup-token', token);
    else sessionStorage.removeItem('nsup-token');
    $('auth').textContent = authed ? 'actions enabled' : token ? 'token refused: read-only' : 'read-only';
    $('auth').className = authed ? 'ok' : token ? 'bad' : 'muted';
    document.body.dataset.authed = String(authed);
    for (const card of cards.values()) updateButtons(card);
  }
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    token = $('token').value.trim();
    $('token').value = '';
    void checkToken();
  });

  let toastTimer = 0;
  function toast(text, kind = 'info') {
    const t = $('toast');
    t.textContent = text;
    t.dataset.kind = kind;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (t.hidden = true), 6000);
  }

  async function act(app, action, body) {
    if (!authed) return toast('Reload and scale need the dashboard token.', 'error');
    toast(`${action} of ${app}…`);
    const res = await fetch(`/api/apps/${encodeURIComponent(app)}/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    }).catch((error) => ({ ok: false, status: 0, json: async () => ({ error: String(error) }) }));
    const answer = await res.json().catch(() => ({}));
    if (res.status === 401) void checkToken();
    const result = answer.results?.[0];
    const text = answer.error ?? (result && (result.message ?? (result.ok ? `reloaded to generation ${result.generation} in ${result.durationMs} ms` : `rolled back: ${result.reason}`)));
    toast(`${app}: ${text ?? res.status}`, res.ok ? 'info' : 'error');
  }

  // ---- charts: one uPlot per series per app, fed from the shared time column.
  const SERIES = [
    { key: 'reqPerSec', title: 'requests / s', color: '#73bf69', value: (v) => fmt.num(v, 1) },
    { key: 'rssBytes', title: 'memory (RSS, all workers)', color: '#5794f2', value: fmt.mb },
    { key: 'cpuPercent', title: 'CPU (100 % = one core)', color: '#f2cc0c', value: fmt.pct },
    { key: 'restarts', title: 'crash restarts (since start)', color: '#f2495c', value: (v) => fmt.num(v), stepped: true },
  ];
  let times = [];
  const series = new Map(); // app → { key → values[] }

  function appSeries(name) {
    if (!series.has(name)) series.set(name, Object.fromEntries(SERIES.map((s) => [s.key, times.map(() => null)])));
    return series.get(name);
  }
  function loadHistory(doc) {
    times = doc.t.slice();
    series.clear();
    for (const [name, s] of Object.entries(doc.apps)) series.set(name, structuredClone(s));
  }
  function addSample(sample) {
    if (times.length && sample.t <= times[times.length - 1]) return;
    times.push(sample.t);
    for (const name of new Set([...series.keys(), ...Object.keys(sample.apps)])) {
      const s = appSeries(name);
      for (const { key } of SERIES) s[key].push(sample.apps[name]?.[key] ?? null);
    }
    const keep = times.findIndex((t) => t > sample.t - WINDOW_S);
    if (keep > 0) {
      times.splice(0, keep);
      for (const s of series.values()) for (const { key } of SERIES) s[key].splice(0, keep);
    }
  }
  function makeChart(box, spec) {
    const width = Math.max(280, box.clientWidth || 320);
    return new uPlot({
      width, height: 130, legend: { show: false }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min ?? 0), Math.max(max ?? 1, spec.key === 'restarts' ? 1 : 0) * 1.1 || 1] } },
      axes: [
        { stroke: '#8e9299', grid: { stroke: '#2c3036' }, ticks: { stroke: '#2c3036' } },
        { stroke: '#8e9299', grid: { stroke: '#2c3036' }, ticks: { stroke: '#2c3036' }, size: 70, values: (u, vals) => vals.map(spec.value) },
      ],
      series: [{}, { label: spec.title, stroke: spec.color, fill: `${spec.color}22`, width: 1.5, spanGaps: false, value: (u, v) => spec.value(v), ...(spec.stepped ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}) }],
    }, [[], []], box);
  }

  // ---- cards: built once per app, their text updated each tick.
  const cards = new Map();
  const charts = {}; // app → key → uPlot (also window.nsupDashboard.charts, for tests and the console)
  window.nsupDashboard = { charts, ticks: 0, cards };

  function card(app) {
    if (cards.has(app.name)) return cards.get(app.name);
    const c = { name: app.name, desired: app.desired };
    c.state = el('span', { class: 'badge', 'data-field': 'state' });
    c.meta = el('span', { class: 'muted', 'data-field': 'meta' });
    c.reload = el('button', { type: 'button', 'data-action': 'reload', text: 'Reload' });
    c.down = el('button', { type: 'button', 'data-action': 'scale-down', text: '−1 worker' });
    c.up = el('button', { type: 'button', 'data-action': 'scale-up', text: '+1 worker' });
    c.reload.onclick = () => act(app.name, 'reload');
    c.down.onclick = () => act(app.name, 'scale', { delta: -1 });
    c.up.onclick = () => act(app.name, 'scale', { delta: 1 });
    c.alert = el('div', { class: 'alert', 'data-field': 'alert', hidden: '' });
    c.chartBox = el('div', { class: 'charts' });
    c.workers = el('tbody');
    c.reloads = el('tbody');
    c.failure = el('div', { 'data-field': 'last-failure' });
    const head = (...names) => el('thead', {}, el('tr', {}, ...names.map((n) => el('th', { text: n, class: /^(CPU|RSS|req|uptime|restarts|ELU|loop|conn|duration|requests)/.test(n) ? 'num' : '' }))));
    c.root = el('section', { class: 'app', 'data-app': app.name },
      el('div', { class: 'app-head' }, el('h2', { text: app.name }), c.state, c.meta, el('div', { class: 'actions' }, c.reload, c.down, c.up)),
      c.alert, c.chartBox,
      el('h3', { text: 'Workers' }), el('div', { class: 'scroll' }, el('table', { 'data-table': 'workers' }, head('id', 'pid', 'state', 'gen', 'up', 'restarts', 'uptime', 'CPU', 'RSS', 'req/s', 'requests', 'ELU', 'loop p99', 'conn'), c.workers)),
      el('h3', { text: 'Reloads (last 20)' }), el('div', { class: 'scroll' }, el('table', { 'data-table': 'reloads' }, head('generation', 'trigger', 'started', 'duration', 'result'), c.reloads)),
      el('h3', { text: 'Last failure' }), c.failure);
    if (cards.size === 0) $('apps').replaceChildren();
    $('apps').append(c.root);
    charts[app.name] = {};
    for (const spec of SERIES) {
      const box = el('div', { class: 'chart', 'data-chart': spec.key }, el('div', { class: 'title', text: spec.title }));
      c.chartBox.append(box);
      charts[app.name][spec.key] = makeChart(box, spec);
    }
    cards.set(app.name, c);
    updateButtons(c);
    return c;
  }
  function updateButtons(c) {
    const why = authed ? '' : 'read-only: enter the dashboard token to enable';
    for (const b of [c.reload, c.down, c.up]) {
      b.disabled = !authed;
      b.title = why;
    }
    if (authed && c.desired <= 1) c.down.disabled = true;
  }
  const cell = (text, cls = '', field = '') => el('td', { text: String(text), ...(cls ? { class: cls } : {}), ...(field ? { 'data-field': field } : {}) });

  function renderApp(app) {
    const c = card(app);
    c.desired = app.desired;
    c.state.textContent = app.state;
    c.state.dataset.state = app.state;
    c.meta.textContent = `generation ${app.generation} · ${app.workers.filter((w) => w.up).length}/${app.desired} up · ready when ${app.readyWhen}`;
    updateButtons(c);
    const crashing = app.state === 'crash-loop' || app.state === 'errored';
    c.alert.hidden = !crashing;
    if (crashing) {
      const waiting = app.workers.filter((w) => w.state === 'waiting').length;
      c.alert.textContent = `${app.state === 'errored' ? 'errored: restarts stopped until a reload' : `crash-loop: restarting with backoff${waiting ? ` (${waiting} waiting)` : ''}`}; last exit: ${app.lastFailure?.reason ?? 'unknown'}`;
    }
    c.workers.replaceChildren(...app.workers.map((w) => {
      const live = w.live ?? null;
      const conns = w.connections ? `${w.connections.inFlight}/${w.connections.keepAlive + w.connections.websocket + w.connections.stream}` : dash;
      const row = el('tr', { 'data-worker': String(w.id), 'data-pid': String(w.pid ?? '') },
        cell(w.id), cell(w.pid ?? dash, 'num', 'pid'), el('td', {}, el('span', { class: 'badge', 'data-state': w.state, text: w.state })), cell(w.generation, 'num'),
        cell(w.up ? 'yes' : 'no'), cell(w.restarts, 'num', 'restarts'), cell(fmt.duration(w.pid ? w.uptimeMs : 0), 'num'), cell(fmt.pct(w.cpuPercent), 'num'), cell(fmt.mb(w.rssBytes), 'num'),
        cell(live ? fmt.num(live.reqPerSec, 1) : dash, 'num', 'req-per-sec'), cell(live ? live.requests : dash, 'num'), cell(live ? `${Math.round(live.elu * 100)} %` : dash, 'num'),
        cell(live ? fmt.ms(live.eventLoopDelayMs?.p99) : dash, 'num'), cell(conns, 'num'));
      if (w.notUpReason) row.title = w.notUpReason;
      return row;
    }));
    const reloads = Array.isArray(app.reloads) ? app.reloads : app.lastReload ? [{ ...app.lastReload, trigger: dash, startedAt: null }] : [];
    c.reloads.replaceChildren(...(reloads.length ? reloads.slice().reverse().map((r) => el('tr', { 'data-ok': String(r.ok) },
      cell(r.generation, 'num'), cell(r.trigger ?? dash), cell(fmt.time(r.startedAt)), cell(`${r.durationMs} ms`, 'num'),
      cell(r.ok ? 'ok' : `rolled back: ${r.reason ?? 'unknown'}`, r.ok ? 'ok' : 'bad'))) : [el('tr', {}, el('td', { colspan: '5', class: 'muted', text: 'no reloads yet' }))]));
    const f = app.lastFailure;
    c.failure.replaceChildren(...(f ? [
      el('div', { text: `${fmt.time(f.at)} · worker ${f.worker}${f.pid ? ` (pid ${f.pid})` : ''} · ${f.signal ? `signal ${f.signal}` : `exit code ${f.code}`}: ${f.reason}` }),
      ...(f.stderr?.length ? [el('pre', { text: f.stderr.join('\n') })] : []),
    ] : [el('span', { class: 'muted', text: 'none since start' })]));
    const s = appSeries(app.name);
    for (const spec of SERIES) charts[app.name][spec.key].setData([times, s[spec.key]]);
  }

  function render(message) {
    const st = message.status;
    $('supervisor').textContent = `supervisor ${st.pid} · Node ${st.node} · ${st.mode}${st.config ? ` · ${st.config}` : ''} · up since ${new Date(st.startedAt).toLocaleString()}`;
    addSample(message.sample);
    for (const app of st.apps) renderApp(app);
    for (const [name, c] of cards) {
      if (st.apps.some((a) => a.name === name)) continue;
      for (const chart of Object.values(charts[name])) chart.destroy();
      c.root.remove();
      cards.delete(name);
      delete charts[name];
    }
    window.nsupDashboard.ticks++;
  }

  window.addEventListener('resize', () => {
    for (const app of Object.values(charts)) for (const u of Object.values(app)) u.setSize({ width: Math.max(280, u.root.parentElement.clientWidth), height: 130 });
  });

  const events = new EventSource('/api/events');
  const conn = (state, text) => { $('conn').dataset.state = state; $('conn').textContent = text; };
  events.addEventListener('open', () => conn('live', 'live'));
  events.addEventListener('error', () => conn('lost', 'connection lost: retrying…'));
  events.addEventListener('history', (e) => loadHistory(JSON.parse(e.data)));
  events.addEventListener('status', (e) => render(JSON.parse(e.data)));
  void checkToken();
})();
