// The Switchboard live dashboard: clients by session, topics, throughput,
// the live message log, operator actions and the WebAssembly playground.
//
// Data flow: the admin token (from ?token=…, kept in sessionStorage) drives
// an AdminApi. Clients and sessions are fetched every 2 s (or on a stats
// event). GET /api/v1/events, when the server has it, feeds the chart and
// the log; without it (404) the chart is estimated from the clients'
// counters and the log says it is unavailable. Selecting a topic shows who
// subscribes to it (GET …/topics/{topic}/presence) and its latest messages
// (GET …/history), refreshed with the rest. The Cluster panel (GET
// /api/v1/cluster, refreshed with the clients) lists the nodes: one without
// NATS, every node of the cluster with it; in a cluster each client carries
// the id of the node it is connected to, shown in its row.

import { AdminApi, EventStream } from './api.js';
import { RateChart } from './chart.js';
import { initPlayground } from './playground.js';
import {
  $, h, reconcile, uid, formatCount, formatRate, formatBytes, formatClock, formatDateTime,
  parseTime, relativeTime, checkName, checkSession, checkTopic, parsePayload, setFieldError, formatDuration,
} from './util.js';

const TOKEN_KEY = 'switchboard.adminToken';
const REFRESH_MS = 2000;
const LOG_MAX = 500;
const CLIENTS_PER_SESSION_MAX = 200;
const KNOWN_COUNTERS = [
  ['msgs_in', 'messages in'],
  ['msgs_out', 'messages out'],
  ['bytes_in', 'bytes in'],
  ['bytes_out', 'bytes out'],
];
const NON_COUNTERS = new Set(['client_id', 'name', 'session_id', 'remote_addr', 'connected_at', 'subscriptions', 'counters', 'node']);
const NODE_LABEL_MIN = 8; // characters of a node id shown, more only when two ids share them
const HISTORY_LIMIT = 20;
const PREVIEW_MAX = 200;

const state = {
  token: null,
  api: null,
  stream: null,
  streamStatus: 'stopped',
  streamDetail: {},
  refreshing: false,
  lastRefresh: 0,
  lastOk: 0,
  refreshError: null,
  clients: [],
  sessions: [],
  cluster: null, // the latest GET /api/v1/cluster, normalized
  clusterError: null,
  clusterAt: 0, // when it was read, for the nodes' uptime
  lastStatsAt: 0,
  prevTotals: null,
  timer: null,
};

let chart;

// ---- admin token -----------------------------------------------------------

let memoryToken = null; // when sessionStorage is unavailable

function storeToken(token) {
  memoryToken = token;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: keep it in memory */ }
}

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
  } catch {
    return memoryToken;
  }
}

/** Takes ?token=… from the address bar into session storage, then hides it. */
function takeTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  url.searchParams.delete('token');
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
  if (token.trim()) storeToken(token.trim());
}

function showAuth(message) {
  const panel = $('[data-testid="auth-panel"]');
  const msg = $('[data-testid="auth-message"]');
  panel.hidden = false;
  msg.textContent = message || '';
  msg.hidden = !message;
  $('[data-testid="sign-out"]').hidden = true;
  const input = $('#auth-token');
  input.value = '';
  input.focus();
}

function initAuthForm() {
  $('[data-testid="auth-form"]').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('#auth-token');
    const token = input.value.trim();
    if (!token) {
      setFieldError(input, 'Paste the admin token.');
      input.focus();
      return;
    }
    setFieldError(input, '');
    storeToken(token);
    startAdmin(token);
  });
  $('[data-testid="sign-out"]').addEventListener('click', () => signOut());
}

function startAdmin(token) {
  stopAdmin();
  state.token = token;
  state.api = new AdminApi({ token });
  state.refreshError = null;
  state.lastOk = 0;
  $('[data-testid="auth-panel"]').hidden = true;
  $('[data-testid="sign-out"]').hidden = false;
  setLogStatus('Connecting to the live event stream…');
  updateStatus();
  refresh();
  state.timer = setInterval(() => {
    if (!document.hidden && Date.now() - state.lastRefresh >= REFRESH_MS - 100) refresh();
  }, 500);
  state.stream = new EventStream({ api: state.api, onEvent: handleEvent, onStatus: handleStreamStatus }).start();
}

function stopAdmin() {
  clearInterval(state.timer);
  state.timer = null;
  state.stream?.stop();
  state.stream = null;
  state.streamStatus = 'stopped';
  state.api = null;
  state.token = null;
}

/** Forgets the token; with a reason (e.g. a 401) the form shows it. */
function signOut(reason) {
  stopAdmin();
  storeToken(null);
  state.clients = [];
  state.sessions = [];
  state.cluster = null;
  state.clusterError = null;
  state.prevTotals = null;
  closeTopic({ restoreFocus: false });
  renderData();
  setStats({});
  setLogStatus('Sign in with the admin token to see the live message log.');
  updateStatus();
  showAuth(reason);
}

/** Handles an admin API error common to every call; true when it signed out. */
function handleAuthError(err) {
  if (err?.status === 401) {
    signOut('The server rejected the admin token (401 unauthorized). Enter the token it printed at start.');
    return true;
  }
  return false;
}

// ---- header status ------------------------------------------------------------

let lastStatusText = '';

function updateStatus() {
  let s;
  let text;
  const retryIn = state.streamDetail?.delayMs;
  if (!state.token) {
    s = 'signed-out';
    text = 'Not signed in';
  } else if (state.refreshError && (state.refreshError.code === 'network' || state.refreshError.code === 'timeout')) {
    s = 'error';
    text = 'Server unreachable, retrying';
  } else if (state.refreshError) {
    s = 'error';
    const e = state.refreshError;
    text = `API error${e.status ? ` (HTTP ${e.status})` : e.code ? ` (${e.code})` : ''}: see the panels below`;
  } else if (!state.lastOk) {
    s = 'connecting';
    text = 'Connecting…';
  } else if (state.streamStatus === 'open') {
    s = 'live';
    text = 'Live';
  } else if (state.streamStatus === 'unavailable') {
    s = 'polling';
    text = 'Polling every 2 s';
  } else if (state.streamStatus === 'retrying') {
    s = 'reconnecting';
    text = `Live stream lost, retrying in ${Math.max(1, Math.round((retryIn || 1000) / 1000))} s`;
  } else {
    s = 'connecting';
    text = 'Connecting to the live stream…';
  }
  const box = $('[data-testid="connection-status"]');
  box.dataset.state = s;
  if (text !== lastStatusText) {
    const el = $('[data-testid="connection-status-text"]');
    el.textContent = text;
    el.title = state.refreshError?.message ?? text;
    lastStatusText = text;
  }
}

function setStats({ connections, sessions, inRate, outRate }) {
  $('[data-testid="stat-connections"]').textContent = formatCount(connections);
  $('[data-testid="stat-sessions"]').textContent = formatCount(sessions);
  $('[data-testid="stat-in-rate"]').textContent = formatRate(inRate);
  $('[data-testid="stat-out-rate"]').textContent = formatRate(outRate);
}

// ---- clients and sessions ------------------------------------------------------

function refreshSoon() {
  setTimeout(() => refresh(true), 250);
}

async function refresh(force = false) {
  const api = state.api;
  if (!api || (state.refreshing && !force)) return;
  state.refreshing = true;
  state.lastRefresh = Date.now();
  const [clients, sessions, cluster] = await Promise.allSettled([api.listClients(), api.listSessions(), api.cluster()]);
  state.refreshing = false;
  if (api !== state.api) return; // signed out meanwhile
  const failure = [clients, sessions, cluster].find((r) => r.status === 'rejected')?.reason;
  if (failure && handleAuthError(failure)) return;

  // The cluster view is an extra: its failure leaves the clients alone.
  if (cluster.status === 'fulfilled') {
    state.cluster = normalizeCluster(cluster.value);
    state.clusterError = null;
    state.clusterAt = Date.now();
  } else {
    state.clusterError = cluster.reason;
  }

  if (clients.status === 'fulfilled') state.clients = clients.value.map(normalizeClient).filter((c) => c.id);
  if (sessions.status === 'fulfilled') state.sessions = sessions.value.map(normalizeSession).filter((s) => s.id);
  if (clients.status === 'rejected' && sessions.status === 'rejected') {
    state.refreshError = clients.reason;
  } else {
    state.refreshError = null;
    state.lastOk = Date.now();
  }
  const problems = [];
  if (clients.status === 'rejected') problems.push(`Could not load clients: ${clients.reason.message}`);
  if (sessions.status === 'rejected') problems.push(`Could not load sessions: ${sessions.reason.message}`);
  setPanelStatus('clients-status', problems.join(' '), problems.length ? 'error' : '');

  if (!state.refreshError) estimateRates();
  renderData();
  updateStatus();
  if (detail.topic) loadTopicDetail();
}

function normalizeClient(c) {
  if (!c || typeof c !== 'object') return { id: '' };
  const counters = [];
  const source = { ...c, ...(c.counters && typeof c.counters === 'object' ? c.counters : {}) };
  for (const [key, label] of KNOWN_COUNTERS) {
    if (typeof source[key] === 'number') counters.push({ key, label, value: source[key] });
  }
  for (const [key, value] of Object.entries(source)) {
    if (typeof value === 'number' && !NON_COUNTERS.has(key) && !KNOWN_COUNTERS.some(([k]) => k === key)) {
      counters.push({ key, label: key.replace(/_/g, ' '), value });
    }
  }
  return {
    id: String(c.client_id ?? c.id ?? ''),
    name: String(c.name ?? ''),
    session: String(c.session_id ?? ''),
    remote: c.remote_addr ? String(c.remote_addr) : '',
    node: c.node ? String(c.node) : '',
    connectedAt: parseTime(c.connected_at),
    subscriptions: normalizeSubscriptions(c.subscriptions),
    counters,
    msgsIn: typeof source.msgs_in === 'number' ? source.msgs_in : null,
    msgsOut: typeof source.msgs_out === 'number' ? source.msgs_out : null,
  };
}

function normalizeSubscriptions(subs) {
  if (!Array.isArray(subs)) return [];
  return subs.map((s) => (typeof s === 'string' ? s : s?.topic ?? s?.pattern ?? '')).filter(Boolean).map(String);
}

function normalizeSession(s) {
  if (typeof s === 'string') return { id: s, topics: null, clientObjects: [], clientCount: null };
  if (!s || typeof s !== 'object') return { id: '' };
  const clients = Array.isArray(s.clients) ? s.clients : [];
  return {
    id: String(s.session_id ?? s.id ?? ''),
    topics: normalizeTopics(s.topics),
    clientObjects: clients.filter((c) => c && typeof c === 'object'),
    clientCount: Array.isArray(s.clients) ? s.clients.length : typeof s.clients === 'number' ? s.clients : null,
  };
}

function normalizeTopics(topics) {
  if (Array.isArray(topics)) {
    return topics.map((t) => {
      if (typeof t === 'string') return { topic: t, subscribers: null };
      const subs = t?.subscribers;
      return {
        topic: String(t?.topic ?? t?.pattern ?? t?.name ?? ''),
        subscribers: Array.isArray(subs) ? subs.length : typeof subs === 'number' ? subs : null,
        wildcard: t?.wildcard === true,
      };
    }).filter((t) => t.topic);
  }
  if (topics && typeof topics === 'object') {
    return Object.entries(topics).map(([topic, n]) => ({
      topic, subscribers: Array.isArray(n) ? n.length : typeof n === 'number' ? n : null,
    }));
  }
  return null;
}

/** Groups clients by session; sessions without clients are kept. */
function groupSessions() {
  const groups = new Map();
  const group = (id) => {
    if (!groups.has(id)) groups.set(id, { id, clients: [], topics: null, declared: null });
    return groups.get(id);
  };
  const known = new Set(state.clients.map((c) => c.id));
  for (const s of state.sessions) {
    const g = group(s.id);
    g.topics = s.topics;
    g.declared = s.clientCount;
    for (const raw of s.clientObjects) {
      const c = normalizeClient({ session_id: s.id, ...raw });
      if (c.id && !known.has(c.id)) {
        known.add(c.id);
        g.clients.push(c);
      }
    }
  }
  for (const c of state.clients) group(c.session || '(none)').clients.push(c);
  const list = [...groups.values()];
  list.sort((a, b) => a.id.localeCompare(b.id));
  for (const g of list) {
    g.clients.sort((a, b) => (a.connectedAt?.getTime() ?? 0) - (b.connectedAt?.getTime() ?? 0)
      || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }
  return list;
}

const parts = new WeakMap(); // element → its sub-elements
const rowClient = new WeakMap(); // client row → latest client data

function renderData() {
  renderCluster();
  const groups = groupSessions();
  const list = $('[data-testid="session-list"]');
  reconcile(list, groups, { key: (g) => g.id, create: createSessionGroup, update: updateSessionGroup });
  const nClients = groups.reduce((n, g) => n + g.clients.length, 0);
  const empty = $('[data-testid="clients-empty"]');
  empty.hidden = groups.length > 0 || (state.token && !state.lastOk);
  empty.textContent = state.token ? 'No clients are connected.' : 'Enter the admin token to see connected clients.';
  const known = state.token && state.lastOk;
  $('[data-testid="clients-summary"]').textContent = known
    ? `${plural(nClients, 'client')} in ${plural(groups.length, 'session')}`
    : '';
  renderTopics(groups);
  renderSessionOptions(groups);
  if (state.streamStatus !== 'open' && Date.now() - state.lastStatsAt > 5000) {
    setStats({
      connections: known ? nClients : undefined,
      sessions: known ? groups.length : undefined,
      inRate: state.estimate?.in,
      outRate: state.estimate?.out,
    });
  }
}

function plural(n, word) {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
}

function createSessionGroup(g) {
  const headId = uid('session');
  const count = h('span', { class: 'badge', 'data-testid': 'session-client-count' });
  const tbody = h('tbody');
  const more = h('p', { class: 'muted small more', hidden: true });
  const empty = h('p', { class: 'empty small', text: 'No connected clients.', hidden: true });
  const table = h('table', { class: 'clients-table' },
    h('caption', { class: 'visually-hidden', text: `Clients in session ${g.id}` }),
    h('colgroup', {}, ['client', 'conn', 'subs', 'traffic', 'actions'].map((c) => h('col', { class: `col-${c}` }))),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Client' }),
      h('th', { scope: 'col', text: 'Connection' }),
      h('th', { scope: 'col', text: 'Subscriptions' }),
      h('th', { scope: 'col', text: 'Traffic in / out' }),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Actions' })))),
    tbody);
  const el = h('section', {
    class: 'session', 'data-testid': 'session-group', 'data-session-id': g.id, 'aria-labelledby': headId,
  },
  h('div', { class: 'session-head' },
    h('h3', { id: headId }, h('span', { class: 'muted session-label', text: 'Session' }), h('code', { text: g.id })),
    count,
    h('button', {
      type: 'button', class: 'btn btn-small', 'data-testid': 'session-publish-button',
      'aria-label': `Publish into session ${g.id}`, onclick: () => prefillPublish(g.id),
    }, 'Publish…')),
  h('div', { class: 'table-scroll' }, table),
  more, empty);
  parts.set(el, { count, tbody, table, more, empty });
  return el;
}

function updateSessionGroup(el, g) {
  const p = parts.get(el);
  const n = g.clients.length;
  p.count.textContent = plural(n, 'client');
  const shown = g.clients.slice(0, CLIENTS_PER_SESSION_MAX);
  reconcile(p.tbody, shown, { key: (c) => c.id, create: createClientRow, update: updateClientRow });
  p.table.hidden = n === 0;
  p.empty.hidden = n > 0;
  p.more.hidden = n <= shown.length;
  p.more.textContent = `… and ${formatCount(n - shown.length)} more clients (GET /api/v1/clients?session_id=… lists them all).`;
}

function createClientRow(c) {
  const cells = {
    client: h('td', { 'data-label': 'Client', class: 'cell-client' }),
    conn: h('td', { 'data-label': 'Connection', class: 'cell-conn small' }),
    subs: h('td', { 'data-label': 'Subscriptions', 'data-testid': 'client-subscriptions' }),
    traffic: h('td', { 'data-label': 'Traffic in / out', class: 'cell-traffic small', 'data-testid': 'client-counters' }),
  };
  const send = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'client-send-button' }, 'Send…');
  const disconnect = h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', 'data-testid': 'client-disconnect-button' }, 'Disconnect');
  const row = h('tr', { 'data-testid': 'client-row', 'data-client-id': c.id, 'data-session-id': c.session },
    cells.client, cells.conn, cells.subs, cells.traffic,
    h('td', { class: 'cell-actions', 'data-label': 'Actions' }, h('div', { class: 'row-actions' }, send, disconnect)));
  send.addEventListener('click', () => openSend(rowClient.get(row), send));
  disconnect.addEventListener('click', () => confirmDisconnect(rowClient.get(row), disconnect));
  parts.set(row, { ...cells, send, disconnect });
  return row;
}

function updateClientRow(row, c) {
  rowClient.set(row, c);
  const p = parts.get(row);
  const label = c.name ? `${c.name} (${c.id})` : c.id;
  p.client.replaceChildren(
    h('span', { class: 'client-name', 'data-testid': 'client-name', text: c.name || '(no name)' }),
    h('code', { class: 'client-id', 'data-testid': 'client-id', text: c.id }));
  p.conn.replaceChildren(h('div', {},
    h('code', { class: 'client-remote ellipsis', title: c.remote, 'data-testid': 'client-remote', text: c.remote || '–' }),
    h('span', { class: 'client-since muted', 'data-testid': 'client-connected' }, c.connectedAt
      ? ['connected ', h('time', {
        datetime: c.connectedAt.toISOString(), title: formatDateTime(c.connectedAt),
        text: relativeTime(c.connectedAt),
      })]
      : 'connected –'),
    c.node ? nodeBadge(c.node) : null));
  p.subs.replaceChildren(c.subscriptions.length
    ? h('ul', { class: 'chips', 'aria-label': `Subscriptions of ${label}` },
      c.subscriptions.map((s) => h('li', {}, h('code', { text: s }))))
    : h('span', { class: 'muted', text: 'none' }));
  p.traffic.replaceChildren(h('div', {}, trafficLines(c.counters)));
  p.send.setAttribute('aria-label', `Send a message to ${label}`);
  p.disconnect.setAttribute('aria-label', `Disconnect ${label}`);
}

/** "msgs 43 / 98" and "bytes 1.2 KiB / 800 B" (in / out), then any other counters. */
function trafficLines(counters) {
  if (!counters.length) return [h('span', { class: 'muted', text: '–' })];
  const by = Object.fromEntries(counters.map((x) => [x.key, x.value]));
  const lines = [];
  const pair = (label, a, b, fmt) => {
    if (a === undefined && b === undefined) return;
    lines.push(h('div', { class: 'traffic-line', title: `${label}: in = received from the client, out = delivered to it` },
      h('span', { class: 'muted', text: `${label} ` }), fmt(a), h('span', { class: 'muted', text: ' / ' }), fmt(b)));
  };
  pair('msgs', by.msgs_in, by.msgs_out, formatCount);
  pair('bytes', by.bytes_in, by.bytes_out, formatBytes);
  for (const x of counters) {
    if (KNOWN_COUNTERS.some(([k]) => k === x.key)) continue;
    lines.push(h('div', { class: 'traffic-line' }, h('span', { class: 'muted', text: `${x.label} ` }), formatCount(x.value)));
  }
  return lines;
}

function renderTopics(groups) {
  const items = [];
  const declared = groups.some((g) => Array.isArray(g.topics));
  let count = 0;
  for (const g of groups) {
    let rows;
    if (declared) {
      rows = (g.topics ?? []).map((t) => ({ ...t }));
    } else {
      const counts = new Map();
      for (const c of g.clients) for (const s of c.subscriptions) counts.set(s, (counts.get(s) ?? 0) + 1);
      rows = [...counts].map(([topic, subscribers]) => ({ topic, subscribers }));
    }
    if (!rows.length) continue;
    rows.sort((a, b) => a.topic.localeCompare(b.topic));
    items.push({ head: true, session: g.id, n: rows.length });
    for (const r of rows) items.push({ session: g.id, ...r });
    count += rows.length;
  }
  reconcile($('[data-testid="topic-rows"]'), items, {
    key: (r) => (r.head ? `s\u0000${r.session}` : `t\u0000${r.session}\u0000${r.topic}`),
    create: (r) => (r.head
      ? h('tr', { class: 'group-row', 'data-testid': 'topic-session', 'data-session-id': r.session },
        h('th', { scope: 'rowgroup', colspan: 2 }, h('span', { class: 'session-label muted', text: 'Session ' }), h('code', { text: r.session })))
      : createTopicRow(r)),
    update: (row, r) => {
      if (r.head) return;
      row.lastElementChild.textContent = r.subscribers == null ? '–' : formatCount(r.subscribers);
      const open = isOpenTopic(r.session, r.topic);
      row.classList.toggle('is-selected', open);
      row.querySelector('[data-testid="topic-open"]')?.setAttribute('aria-expanded', String(open));
    },
  });
  $('[data-testid="topics-table"]').hidden = count === 0;
  $('[data-testid="topics-hint"]').hidden = count === 0 || !!detail.topic;
  $('[data-testid="topics-empty"]').hidden = count > 0 || (state.token && !state.lastOk);
  $('[data-testid="topics-empty"]').textContent = state.token ? 'No subscriptions.' : 'Enter the admin token to see topics.';
  $('[data-testid="topics-source"]').textContent = count && !declared ? 'from client subscriptions' : '';
}

/** Presence and history apply to topics, not to patterns with wildcards. */
const isPattern = (r) => r.wildcard || /(^|\.)[*>](\.|$)/.test(r.topic);

function createTopicRow(r) {
  const name = isPattern(r)
    ? h('code', { text: r.topic, title: 'A pattern: presence and history belong to topics' })
    : h('button', {
      type: 'button', class: 'link-button', 'data-testid': 'topic-open',
      'aria-controls': 'topic-detail', 'aria-expanded': 'false',
      onclick: () => toggleTopic(r.session, r.topic),
    }, h('code', { text: r.topic }),
    h('span', { class: 'visually-hidden', text: ` in session ${r.session}: who’s here and latest messages` }));
  return h('tr', { 'data-testid': 'topic-row', 'data-session-id': r.session, 'data-topic': r.topic },
    h('td', { 'data-label': 'Topic' }, name),
    h('td', { 'data-label': 'Subscribers', class: 'num', 'data-testid': 'topic-subscribers' }));
}

function renderSessionOptions(groups) {
  const list = $('#session-options');
  reconcile(list, groups, {
    key: (g) => g.id,
    create: (g) => h('option', { value: g.id }),
    update: () => {},
  });
}

/** Without a stats stream: rates from the change of the clients' counters. */
function estimateRates() {
  const t = Date.now();
  let sumIn = null;
  let sumOut = null;
  for (const c of state.clients) {
    if (c.msgsIn != null) sumIn = (sumIn ?? 0) + c.msgsIn;
    if (c.msgsOut != null) sumOut = (sumOut ?? 0) + c.msgsOut;
  }
  const prev = state.prevTotals;
  state.prevTotals = { t, in: sumIn, out: sumOut };
  if (!prev || state.streamStatus === 'open' || t - state.lastStatsAt < 5000) return;
  const dt = (t - prev.t) / 1000;
  if (dt <= 0 || (sumIn == null && sumOut == null)) return;
  const rate = (a, b) => (a == null || b == null ? 0 : Math.max(0, (a - b) / dt));
  state.estimate = { in: rate(sumIn, prev.in), out: rate(sumOut, prev.out) };
  chart.push(t, state.estimate.in, state.estimate.out, 'estimated from client counters');
}

function setPanelStatus(testid, text, kind = '') {
  const el = $(`[data-testid="${testid}"]`);
  if (el.textContent !== text) el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
}

// ---- cluster ---------------------------------------------------------------------------

function normalizeCluster(c) {
  const nodes = (Array.isArray(c.nodes) ? c.nodes : []).filter((n) => n && typeof n === 'object').map((n) => {
    const started = parseTime(n.started);
    return {
      id: String(n.id ?? ''),
      addr: n.addr ? String(n.addr) : '',
      nats: n.nats ? String(n.nats) : '',
      version: n.version ? String(n.version) : '',
      // Go's zero time (a node that does not know when it started) is no time.
      started: started && started.getUTCFullYear() > 1970 ? started : null,
      clients: typeof n.clients === 'number' ? n.clients : null,
      sessions: typeof n.sessions === 'number' ? n.sessions : null,
      self: n.self === true,
    };
  }).filter((n) => n.id);
  nodes.sort((a, b) => Number(b.self) - Number(a.self) || a.id.localeCompare(b.id));
  return {
    mode: c.mode === 'cluster' ? 'cluster' : 'single',
    node: String(c.node ?? ''),
    epoch: c.epoch == null ? '' : String(c.epoch),
    nodes,
  };
}

const isSelfNode = (id) => !!state.cluster && state.cluster.mode === 'cluster' && id === state.cluster.node;

/**
 * A node's short label: the first NODE_LABEL_MIN characters of its id, or
 * as many more as it takes to tell it from every other node known.
 */
function nodeLabel(id) {
  const others = (state.cluster?.nodes ?? []).map((n) => n.id).filter((o) => o !== id);
  for (let n = NODE_LABEL_MIN; n < id.length; n++) {
    const prefix = id.slice(0, n);
    if (!others.some((o) => o.startsWith(prefix))) return prefix;
  }
  return id;
}

/** The node a client is connected to, in its row: "node n3f2a91c", or "this node" for ours. */
function nodeBadge(id) {
  const self = isSelfNode(id);
  return h('span', { class: 'client-node' },
    h('span', {
      class: 'badge node-badge', 'data-testid': 'client-node', 'data-node-id': id, 'data-self': String(self),
      title: self ? `Connected to node ${id}, the node serving this dashboard` : `Connected to node ${id}`,
    }, self ? 'this node' : [h('span', { class: 'muted', text: 'node ' }), h('span', { class: 'node-short', text: nodeLabel(id) })]));
}

let lastClusterSummary = '';

function renderCluster() {
  const c = state.token ? state.cluster : null;
  const mode = $('[data-testid="cluster-mode"]');
  const table = $('[data-testid="cluster-nodes"]');
  const empty = $('[data-testid="cluster-empty"]');
  const err = state.token ? state.clusterError : null;

  mode.hidden = !c;
  mode.dataset.mode = c?.mode ?? '';
  mode.textContent = !c ? '' : c.mode === 'cluster' ? 'Cluster' : 'Single node';

  let summary = '';
  if (c?.mode === 'cluster') {
    summary = `${plural(c.nodes.length, 'node')} ${c.nodes.length === 1 ? 'serves' : 'serve'} the same sessions over NATS.${c.epoch ? ` Epoch ${c.epoch}.` : ''}`;
  } else if (c) {
    summary = 'Single node: this server runs without NATS, so every client is connected to it.';
  }
  // Announced (aria-live) when it changes, e.g. a node joins or leaves; not on every refresh.
  if (summary !== lastClusterSummary) {
    $('[data-testid="cluster-summary"]').textContent = summary;
    lastClusterSummary = summary;
  }

  let status = '';
  let kind = '';
  if (err?.missing) {
    status = 'This server does not describe its nodes (no GET /api/v1/cluster).';
  } else if (err) {
    status = `Could not read the cluster: ${errorText(err)}${c ? ' Showing the last answer.' : ''}`;
    kind = 'error';
  }
  setPanelStatus('cluster-status', status, kind);

  const nodes = c?.nodes ?? [];
  reconcile($('[data-testid="node-rows"]'), nodes, { key: (n) => n.id, create: createNodeRow, update: updateNodeRow });
  table.hidden = nodes.length === 0;
  empty.hidden = nodes.length > 0 || (state.token && (!!err || !state.lastOk));
  empty.textContent = state.token ? 'No nodes known.' : 'Enter the admin token to see the nodes.';

  // The top bar's totals come from this node's event stream.
  $('.stats').setAttribute('aria-label', c?.mode === 'cluster' ? 'Totals of this node' : 'Server totals');
  $('.stats').title = c?.mode === 'cluster' ? 'Totals of this node; the Cluster panel has every node\'s.' : '';
}

function createNodeRow(n) {
  const cells = {
    node: h('th', { scope: 'row', 'data-label': 'Node', class: 'cell-node' }),
    addr: h('td', { 'data-label': 'Address', class: 'cell-addr small' }),
    clients: h('td', { 'data-label': 'Clients', class: 'num', 'data-testid': 'node-clients' }),
    sessions: h('td', { 'data-label': 'Sessions', class: 'num', 'data-testid': 'node-sessions' }),
    up: h('td', { 'data-label': 'Up for', class: 'small', 'data-testid': 'node-uptime' }),
  };
  const row = h('tr', { 'data-testid': 'node-row', 'data-node-id': n.id }, Object.values(cells));
  parts.set(row, cells);
  return row;
}

function updateNodeRow(row, n) {
  const p = parts.get(row);
  const single = state.cluster?.mode !== 'cluster';
  row.dataset.self = String(n.self && !single);
  p.node.replaceChildren(h('div', { class: 'cell-stack' },
    h('span', { class: 'node-name' },
      single
        ? h('span', { class: 'node-label node-single', 'data-testid': 'node-label', text: 'This server' })
        : h('span', { class: 'node-label', 'data-testid': 'node-label', text: nodeLabel(n.id) }),
      n.self && !single ? h('span', { class: 'badge badge-self', 'data-testid': 'node-self', text: 'this node' }) : null),
    single ? null : h('code', { class: 'client-id', 'data-testid': 'node-id', text: n.id }),
    n.version ? h('span', { class: 'node-version muted small', text: `version ${n.version}` }) : null));
  p.addr.replaceChildren(h('div', { class: 'cell-stack' },
    h('code', { class: 'ellipsis', title: n.addr, 'data-testid': 'node-addr', text: n.addr || '–' }),
    n.nats ? h('code', { class: 'ellipsis muted', title: `NATS: ${n.nats}`, text: n.nats }) : null));
  p.clients.textContent = formatCount(n.clients ?? undefined);
  p.sessions.textContent = formatCount(n.sessions ?? undefined);
  p.up.replaceChildren(n.started
    ? h('time', {
      datetime: n.started.toISOString(), title: `Started ${formatDateTime(n.started)}`,
      text: formatDuration(state.clusterAt - n.started.getTime()),
    })
    : h('span', { class: 'muted', text: '–' }));
}

// ---- topic details: presence and history ---------------------------------------------

const detail = { session: null, topic: null, inflight: null, shownKey: null };

const topicKey = (session, topic) => `${session}\u0000${topic}`;
const isOpenTopic = (session, topic) => detail.topic === topic && detail.session === session;

function toggleTopic(session, topic) {
  if (isOpenTopic(session, topic)) closeTopic();
  else openTopic(session, topic);
}

/** Shows the topic's details below the table and moves focus to them. */
function openTopic(session, topic) {
  const box = $('[data-testid="topic-detail"]');
  detail.session = session;
  detail.topic = topic;
  $('[data-testid="topic-detail-topic"]').textContent = topic;
  $('[data-testid="topic-detail-session"]').textContent = session;
  if (detail.shownKey !== topicKey(session, topic)) {
    // Another topic: nothing of the previous one may stay on screen.
    detail.shownKey = topicKey(session, topic);
    renderPresence(null);
    renderHistory(null);
    $('[data-testid="topic-detail-stream"]').textContent = '';
  }
  box.hidden = false;
  renderData(); // aria-expanded and the selected row
  loadTopicDetail();
  const title = $('#topic-detail-title');
  title.focus({ preventScroll: true });
  box.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

function closeTopic({ restoreFocus = true } = {}) {
  if (!detail.topic) return;
  const { session, topic } = detail;
  detail.session = null;
  detail.topic = null;
  $('[data-testid="topic-detail"]').hidden = true;
  renderData();
  if (!restoreFocus) return;
  const row = [...document.querySelectorAll('[data-testid="topic-row"]')]
    .find((r) => r.dataset.sessionId === session && r.dataset.topic === topic);
  (row?.querySelector('[data-testid="topic-open"]') ?? $('#topics-title')).focus();
}

async function loadTopicDetail() {
  const api = state.api;
  if (!api || !detail.topic) return;
  const { session, topic } = detail;
  const key = topicKey(session, topic);
  if (detail.inflight === key) return; // the answer on its way will do
  detail.inflight = key;
  const [presence, history] = await Promise.allSettled([
    api.presence(session, topic),
    api.history(session, topic, { limit: HISTORY_LIMIT }),
  ]);
  if (detail.inflight === key) detail.inflight = null;
  if (api !== state.api || !isOpenTopic(session, topic)) return; // closed or switched meanwhile
  const failure = [presence, history].find((r) => r.status === 'rejected')?.reason;
  if (failure && handleAuthError(failure)) return;
  renderPresence(presence);
  renderHistory(history);
}

/** result: a settled presence call, or null (nothing loaded yet). */
function renderPresence(result) {
  const list = $('[data-testid="presence-list"]');
  const summary = $('[data-testid="presence-summary"]');
  let members = [];
  let text = 'Loading…';
  let kind = 'pending';
  if (result?.status === 'fulfilled') {
    members = result.value.filter((m) => m && typeof m === 'object')
      .map((m) => ({ id: String(m.client_id ?? m.clientId ?? ''), name: String(m.name ?? '') }))
      .filter((m) => m.id);
    text = members.length
      ? `${plural(members.length, 'client')} subscribed`
      : 'Nobody subscribes to this topic. (Subscribers through a wildcard are not listed.)';
    kind = members.length ? '' : 'empty';
  } else if (result?.status === 'rejected') {
    text = `Could not list who is here: ${errorText(result.reason)}`;
    kind = 'error';
  }
  if (summary.textContent !== text) summary.textContent = text;
  summary.dataset.kind = kind;
  reconcile(list, members, {
    key: (m) => m.id,
    create: (m) => h('li', { 'data-testid': 'presence-member', 'data-client-id': m.id },
      h('span', { class: 'member-name', 'data-testid': 'presence-name' }),
      h('code', { class: 'client-id', 'data-testid': 'presence-client-id', text: m.id })),
    update: (li, m) => {
      li.dataset.name = m.name;
      li.firstElementChild.textContent = m.name || '(no name)';
    },
  });
  list.hidden = members.length === 0;
}

/** result: a settled history call, or null (nothing loaded yet). */
function renderHistory(result) {
  const list = $('[data-testid="history-list"]');
  const summary = $('[data-testid="history-summary"]');
  const stream = $('[data-testid="topic-detail-stream"]');
  let items = [];
  let text = 'Loading…';
  let kind = 'pending';
  if (result?.status === 'fulfilled') {
    const page = result.value ?? {};
    const epoch = String(page.epoch ?? '');
    const messages = Array.isArray(page.messages) ? page.messages : [];
    items = messages.filter((m) => m && typeof m === 'object').reverse().map((m) => ({ epoch, m }));
    const seq = typeof page.seq === 'number' ? page.seq : null;
    const kept = seq != null && typeof page.first_seq === 'number' ? Math.max(0, seq - page.first_seq + 1) : items.length;
    stream.textContent = seq == null ? '' : `Latest seq ${formatCount(seq)} · ${plural(kept, 'message')} kept${epoch ? ` · epoch ${epoch}` : ''}`;
    text = !items.length
      ? 'No messages kept: none published yet, or all expired.'
      : kept > items.length ? `The latest ${formatCount(items.length)} of ${formatCount(kept)}.` : '';
    kind = items.length ? '' : 'empty';
  } else if (result?.status === 'rejected') {
    const err = result.reason;
    stream.textContent = '';
    text = err?.status === 404
      ? 'No history: this session has no such topic now (never published to, or expired).'
      : `Could not read the history: ${errorText(err)}`;
    kind = err?.status === 404 ? 'empty' : 'error';
  }
  if (summary.textContent !== text) summary.textContent = text;
  summary.dataset.kind = kind;
  summary.hidden = !text;
  reconcile(list, items, {
    key: ({ epoch, m }) => `${epoch}:${m.seq}`,
    create: historyItem,
    update: () => {}, // a kept message never changes
  });
  list.hidden = items.length === 0;
}

/** One kept message: seq, time, publisher, and a preview of its payload. */
function historyItem({ m }) {
  const ts = parseTime(m.timestamp);
  let json;
  try {
    json = JSON.stringify(m.payload) ?? 'null';
  } catch {
    json = String(m.payload);
  }
  const preview = json.length > PREVIEW_MAX ? `${json.slice(0, PREVIEW_MAX)}…` : json;
  // An e2e: envelope is shown as the ciphertext it is: the dashboard has no
  // key, and the server could not open it either.
  const encrypted = typeof m.payload === 'string' && m.payload.startsWith('e2e:');
  const payload = encrypted
    ? h('div', { class: 'payload-encrypted', 'data-testid': 'history-encrypted' },
      h('span', { class: 'lock-badge' }, h('span', { class: 'lock', 'aria-hidden': 'true', text: '🔒' }), ' end-to-end encrypted'),
      h('code', { class: 'payload cipher', title: json.slice(0, 2000), 'data-testid': 'history-payload', text: preview }))
    : h('code', { class: 'payload', title: json.slice(0, 2000), 'data-testid': 'history-payload', text: preview });
  const publisher = String(m.publisher_name ?? '');
  return h('li', {
    class: 'history-item', 'data-testid': 'history-item', 'data-seq': m.seq ?? null, 'data-encrypted': String(encrypted),
  },
  h('div', { class: 'history-meta' },
    h('span', { class: 'history-seq', 'data-testid': 'history-seq', text: m.seq == null ? 'seq –' : `seq ${m.seq}` }),
    ts ? h('time', { 'data-testid': 'history-time', datetime: ts.toISOString(), title: formatDateTime(ts), text: formatClock(ts) }) : null,
    h('span', { class: 'ellipsis', 'data-testid': 'history-publisher', title: publisher, text: publisher ? `from ${publisher}` : '' })),
  payload);
}

function initTopicDetail() {
  $('[data-testid="topic-detail-close"]').addEventListener('click', () => closeTopic());
  $('[data-testid="topic-detail-refresh"]').addEventListener('click', () => loadTopicDetail());
  $('[data-testid="topic-detail"]').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') closeTopic();
  });
}

// ---- live events ---------------------------------------------------------------------

function handleStreamStatus(status, detail) {
  state.streamStatus = status;
  state.streamDetail = detail;
  if (status === 'unauthorized') {
    handleAuthError(detail.error);
    return;
  }
  if (status === 'open') setLogStatus('');
  else if (status === 'unavailable') {
    setLogStatus('Live log unavailable: this server does not provide /api/v1/events. Clients and sessions are refreshed every 2 s.', 'warn');
  } else if (status === 'retrying') {
    setLogStatus(`Live stream interrupted (${detail.error?.message ?? 'unknown error'}); reconnecting in ${Math.round(detail.delayMs / 1000)} s.`, 'warn');
  }
  updateStatus();
}

function handleEvent(ev) {
  if (ev.type === 'stats') {
    const t = Date.now();
    state.lastStatsAt = t;
    chart.push(t, num(ev.msgs_in_per_sec), num(ev.msgs_out_per_sec), '');
    setStats({
      connections: num(ev.connections), sessions: num(ev.sessions),
      inRate: num(ev.msgs_in_per_sec), outRate: num(ev.msgs_out_per_sec),
    });
    if (t - state.lastRefresh >= REFRESH_MS - 200 && !document.hidden) refresh();
  } else if (ev.type === 'message') {
    queueLog(ev);
  }
}

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

// ---- message log ---------------------------------------------------------------------

const LOG_FLUSH_MS = 200; // at most five DOM updates a second, however busy the stream
const log = { pending: [], paused: false, scheduled: false, filter: '', rows: 0, missed: 0, lastFlush: 0 };

function setLogStatus(text, kind = '') {
  setPanelStatus('log-status', text, kind);
}

function queueLog(ev) {
  log.pending.push(ev);
  if (log.pending.length > LOG_MAX * 2) log.pending.splice(0, log.pending.length - LOG_MAX);
  if (log.paused) {
    log.missed++;
    updateLogCount();
    return;
  }
  if (!log.scheduled) {
    log.scheduled = true;
    setTimeout(() => requestAnimationFrame(flushLog), Math.max(0, LOG_FLUSH_MS - (Date.now() - log.lastFlush)));
  }
}

function flushLog() {
  log.scheduled = false;
  log.lastFlush = Date.now();
  if (log.paused || !log.pending.length) return;
  const batch = log.pending.slice(-LOG_MAX);
  log.pending = [];
  const frag = document.createDocumentFragment();
  for (let i = batch.length - 1; i >= 0; i--) frag.append(logRow(batch[i]));
  const tbody = $('[data-testid="log-rows"]');
  tbody.prepend(frag);
  while (tbody.rows.length > LOG_MAX) tbody.lastElementChild.remove();
  log.rows = tbody.rows.length;
  log.missed = 0;
  updateLogCount();
}

function isEncrypted(ev) {
  return ev.encrypted === true || (typeof ev.preview === 'string' && ev.preview.startsWith('"e2e:'));
}

function logRow(ev) {
  const ts = parseTime(ev.timestamp ?? ev.time);
  const encrypted = isEncrypted(ev);
  const preview = typeof ev.preview === 'string' ? ev.preview : ev.preview === undefined ? '' : JSON.stringify(ev.preview);
  const payload = encrypted
    ? h('div', { class: 'payload-encrypted', 'data-testid': 'log-encrypted' },
      h('span', { class: 'lock-badge' }, h('span', { class: 'lock', 'aria-hidden': 'true', text: '🔒' }), ' end-to-end encrypted'),
      h('code', { class: 'payload cipher', title: preview, 'data-testid': 'log-payload', text: preview }))
    : h('code', { class: 'payload', title: preview, 'data-testid': 'log-payload', text: preview || '–' });
  const session = String(ev.session_id ?? '');
  const topic = String(ev.topic ?? '');
  const publisher = String(ev.publisher_name ?? '');
  const row = h('tr', {
    'data-testid': 'log-row', 'data-session-id': session, 'data-topic': topic, 'data-publisher': publisher,
    'data-encrypted': String(encrypted), 'data-seq': ev.seq ?? null,
  },
  h('td', { 'data-label': 'Time', class: 'mono small nowrap' }, ts
    ? h('time', { datetime: ts.toISOString(), title: formatDateTime(ts), text: formatClock(ts) })
    : '–'),
  h('td', { 'data-label': 'Session · publisher', class: 'cell-session' }, h('div', { class: 'cell-stack' },
    h('code', { class: 'ellipsis', title: session, 'data-testid': 'log-session', text: session || '–' }),
    h('span', { class: 'ellipsis muted small', title: publisher, 'data-testid': 'log-publisher', text: publisher || '–' }))),
  h('td', { 'data-label': 'Topic' }, h('code', { class: 'ellipsis', title: topic, 'data-testid': 'log-topic', text: topic || '–' })),
  h('td', { 'data-label': 'Seq', class: 'num', 'data-testid': 'log-seq', text: ev.seq == null ? '–' : String(ev.seq) }),
  h('td', { 'data-label': 'Size', class: 'num nowrap', 'data-testid': 'log-size', text: typeof ev.size === 'number' ? formatBytes(ev.size) : '–' }),
  h('td', { 'data-label': 'Payload', class: 'cell-payload' }, payload));
  row.hidden = !matchesFilter(row);
  return row;
}

function matchesFilter(row) {
  if (!log.filter) return true;
  const d = row.dataset;
  const hay = `${d.sessionId} ${d.topic} ${d.publisher}`.toLowerCase();
  return hay.includes(log.filter);
}

function updateLogCount() {
  const tbody = $('[data-testid="log-rows"]');
  $('[data-testid="log-empty"]').hidden = tbody.rows.length > 0;
  const text = log.paused
    ? `Paused · ${formatCount(log.missed)} new`
    : tbody.rows.length ? `${formatCount(tbody.rows.length)} of the latest ${LOG_MAX}` : '';
  $('[data-testid="log-count"]').textContent = text;
}

function initLog() {
  const pause = $('[data-testid="log-pause"]');
  pause.addEventListener('click', () => {
    log.paused = !log.paused;
    pause.setAttribute('aria-pressed', String(log.paused));
    pause.textContent = log.paused ? 'Resume' : 'Pause';
    if (!log.paused) flushLog();
    updateLogCount();
  });
  $('[data-testid="log-clear"]').addEventListener('click', () => {
    $('[data-testid="log-rows"]').replaceChildren();
    log.pending = [];
    log.missed = 0;
    updateLogCount();
  });
  $('[data-testid="log-filter"]').addEventListener('input', (ev) => {
    log.filter = ev.target.value.trim().toLowerCase();
    for (const row of $('[data-testid="log-rows"]').rows) row.hidden = !matchesFilter(row);
  });
  updateLogCount();
}

// ---- operator actions -------------------------------------------------------------

function publishForm() {
  return $('[data-testid="publish-form"]');
}

function target() {
  return publishForm().elements.target.value;
}

function syncTarget() {
  const broadcast = target() === 'broadcast';
  for (const el of publishForm().querySelectorAll('[data-show="session"]')) el.hidden = broadcast;
  $('[data-testid="publish-submit"]').textContent = broadcast ? 'Broadcast' : 'Publish';
}

function prefillPublish(sessionId) {
  const form = publishForm();
  form.elements.target.value = 'session';
  syncTarget();
  form.elements.session.value = sessionId;
  setFieldError(form.elements.session, '');
  form.elements.topic.focus();
  form.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

/** Validates fields; shows each error; returns the values or null. */
function validate(checks) {
  let first = null;
  for (const [input, message] of checks) {
    setFieldError(input, message);
    if (message && !first) first = input;
  }
  if (first) first.focus();
  return !first;
}

function setResult(el, text, kind) {
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
}

function initPublishForm() {
  const form = publishForm();
  const { session, topic, payload, publisher } = form.elements;
  for (const radio of form.querySelectorAll('input[name="target"]')) radio.addEventListener('change', syncTarget);
  payload.addEventListener('input', () => {
    if (payload.getAttribute('aria-invalid')) setFieldError(payload, parsePayload(payload.value).error || '');
  });
  syncTarget();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const result = $('[data-testid="publish-result"]');
    const broadcast = target() === 'broadcast';
    const parsed = parsePayload(payload.value);
    const ok = validate([
      [session, broadcast ? '' : checkSession(session.value.trim())],
      [topic, checkTopic(topic.value.trim())],
      [payload, parsed.error || ''],
      [publisher, broadcast || !publisher.value.trim() ? '' : checkName(publisher.value.trim())],
    ]);
    if (!ok) return;
    if (!state.api) {
      setResult(result, 'Enter the admin token first.', 'error');
      showAuth();
      return;
    }
    const button = $('[data-testid="publish-submit"]');
    button.disabled = true;
    setResult(result, broadcast ? 'Broadcasting…' : 'Publishing…', 'pending');
    try {
      if (broadcast) {
        const res = await state.api.broadcast({ topic: topic.value.trim(), payload: parsed.value });
        setResult(result, `Broadcast “${topic.value.trim()}” delivered to ${deliveredText(res)}.`, 'success');
      } else {
        const res = await state.api.publish(session.value.trim(), {
          topic: topic.value.trim(), payload: parsed.value, publisherName: publisher.value.trim(),
        });
        const seq = res && res.seq != null ? `seq ${res.seq}, ` : '';
        setResult(result, `Published to ${session.value.trim()} · ${topic.value.trim()}: ${seq}delivered to ${deliveredText(res)}.`, 'success');
      }
      refreshSoon();
    } catch (err) {
      if (!handleAuthError(err)) setResult(result, errorText(err), 'error');
    } finally {
      button.disabled = false;
    }
  });
}

function deliveredText(res) {
  const n = res?.delivered;
  return typeof n === 'number' ? plural(n, 'client') : 'the server';
}

function errorText(err) {
  const code = err?.code && !['network', 'http_error'].includes(err.code) ? ` (${err.code})` : '';
  return `${err?.message ?? String(err)}${code}`;
}

// send dialog
let sendTarget = null;
let sendOpener = null;

function openSend(client, opener) {
  if (!client) return;
  sendTarget = client;
  sendOpener = opener;
  const dialog = $('[data-testid="send-dialog"]');
  $('#send-title').textContent = `Send to ${client.name || client.id}`;
  const on = client.node ? ` on node ${nodeLabel(client.node)}` : '';
  $('[data-testid="send-target"]').textContent = `Client ${client.id} in session ${client.session}${on}. Delivered whether or not it subscribes to the topic.`;
  setResult($('[data-testid="send-result"]'), '', '');
  const form = $('[data-testid="send-form"]');
  setFieldError(form.elements.topic, '');
  setFieldError(form.elements.payload, '');
  dialog.showModal();
  form.elements.topic.focus();
}

function initSendDialog() {
  const dialog = $('[data-testid="send-dialog"]');
  const form = $('[data-testid="send-form"]');
  const { topic, payload } = form.elements;
  $('[data-testid="send-cancel"]').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    sendOpener?.isConnected && sendOpener.focus();
    sendOpener = null;
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const parsed = parsePayload(payload.value);
    if (!validate([[topic, checkTopic(topic.value.trim())], [payload, parsed.error || '']])) return;
    const client = sendTarget;
    const result = $('[data-testid="send-result"]');
    if (!state.api || !client) return;
    const button = $('[data-testid="send-submit"]');
    button.disabled = true;
    try {
      await state.api.send(client.id, { topic: topic.value.trim(), payload: parsed.value });
      dialog.close();
      toast(`Sent “${topic.value.trim()}” to ${client.name || client.id} (${client.id}).`, 'success');
      refreshSoon();
    } catch (err) {
      if (handleAuthError(err)) dialog.close();
      else setResult(result, errorText(err), 'error');
    } finally {
      button.disabled = false;
    }
  });
}

// confirm dialog
function confirmDialog(text) {
  const dialog = $('[data-testid="confirm-dialog"]');
  $('[data-testid="confirm-text"]').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  $('[data-testid="confirm-cancel"]').focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

async function confirmDisconnect(client, opener) {
  if (!client) return;
  const label = client.name ? `${client.name} (${client.id})` : client.id;
  const ok = await confirmDialog(`Disconnect ${label} from session ${client.session}? The server closes its connection with code 4003; its client may reconnect.`);
  if (opener?.isConnected) opener.focus();
  if (!ok || !state.api) return;
  try {
    await state.api.disconnect(client.id);
    toast(`Disconnected ${label}.`, 'success');
    refreshSoon();
  } catch (err) {
    if (!handleAuthError(err)) toast(`Could not disconnect ${label}: ${errorText(err)}`, 'error');
  }
}

// toast
let toastTimer;
function toast(text, kind = 'info') {
  const el = $('[data-testid="toast"]');
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, kind === 'error' ? 10_000 : 5000);
}

// ---- start -------------------------------------------------------------------------------

function init() {
  takeTokenFromUrl();
  chart = new RateChart($('[data-testid="rate-chart"]'));
  setInterval(() => chart.render(), 1000);
  initAuthForm();
  initLog();
  initPublishForm();
  initSendDialog();
  initTopicDetail();
  initPlayground({ root: $('[data-testid="playground"]'), toast });
  const embed = $('[data-testid="embed-link"]');
  if (/^https?:$/.test(location.protocol)) embed.href = `embed-example.html?server=${encodeURIComponent(location.origin)}`;
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.api) refresh();
  });

  const token = storedToken();
  if (token) startAdmin(token);
  else {
    setLogStatus('Sign in with the admin token to see the live message log.');
    renderData();
    updateStatus();
    showAuth();
  }
}

init();
