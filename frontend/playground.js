// The playground: this page joins a session as a participant through the
// WebAssembly client (switchboard.js), subscribes, publishes and shows what
// it receives, decrypted when the session is end-to-end encrypted. On a
// topic (no wildcards) it also shows who joins and leaves, who is there
// (the chip's “who’s here” button), and messages missed beyond recovery.
//
// It does not need the admin token. If switchboard.wasm is not built, it
// says how to build it and leaves the rest of the dashboard alone.

import { load } from './switchboard.js';
import {
  $, h, formatClock, formatDateTime, parseTime, checkName, checkSession, checkTopic, checkPattern,
  parsePayload, setFieldError,
} from './util.js';

const MESSAGES_MAX = 200;
const NOT_BUILT = 'The browser client is not built: run `go tool task build`';

const STATE_TEXT = {
  idle: 'Not connected',
  loading: 'Loading the browser client…',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
  failed: 'Not connected',
};

const ERROR_HINTS = {
  wrong_key: 'Wrong passphrase: this session was set up with a different one.',
  tampered: 'A message failed authentication (tampered or not meant for this session) and was dropped.',
  replay: 'A replayed message was detected and dropped.',
  unauthorized: 'The server wants a client token (Advanced → Client token).',
  forbidden: 'The server does not allow this session for this client.',
};

/**
 * @param {{root: HTMLElement, toast: (text: string, kind?: string) => void}} options
 */
export function initPlayground({ root, toast }) {
  const q = (id) => $(`[data-testid="${id}"]`, root);
  const connectForm = q('pg-connect-form');
  const { name, session, passphrase, url, token, signed } = connectForm.elements;
  const connectBtn = q('pg-connect');
  const disconnectBtn = q('pg-disconnect');
  const pingBtn = q('pg-ping');
  const live = q('pg-live');
  const subsList = q('pg-subscriptions');
  const messages = q('pg-messages');
  const errorBox = q('pg-error');

  let client = null;
  let closing = false;
  let notBuilt = false;
  const subscriptions = new Map(); // pattern → Subscription

  name.value = `web-${Math.random().toString(36).slice(2, 6)}`;
  session.value = 'demo';
  url.value = defaultWsUrl();

  function setState(s, info = '') {
    const badge = q('pg-state');
    badge.dataset.state = s;
    badge.textContent = STATE_TEXT[s] ?? s;
    q('pg-info').textContent = info;
    const connected = s === 'connected' || s === 'reconnecting';
    live.disabled = !connected;
    disconnectBtn.disabled = !client;
    pingBtn.disabled = s !== 'connected';
    connectBtn.disabled = notBuilt || !!client || s === 'loading' || s === 'connecting';
    for (const el of [name, session, passphrase, url, token, signed]) el.disabled = !!client || s === 'loading' || s === 'connecting';
  }

  function showError(err, prefix = '') {
    if (!err) {
      errorBox.hidden = true;
      errorBox.textContent = '';
      return;
    }
    const code = err.code ? String(err.code) : '';
    const hint = ERROR_HINTS[code];
    errorBox.dataset.code = code;
    errorBox.textContent = `${prefix}${hint ? `${hint} ` : ''}${err.message ?? String(err)}${code ? ` (${code})` : ''}`;
    errorBox.hidden = false;
  }

  function showNotBuilt(detail) {
    const notice = q('pg-notice');
    notice.replaceChildren('The browser client is not built: run ', h('code', { text: 'go tool task build' }),
      ' and restart the server.');
    if (detail) notice.title = detail;
    notice.dataset.kind = 'not-built';
    notice.hidden = false;
    notBuilt = true;
    connectBtn.disabled = true;
  }

  // Cheap probe so that the notice shows before anyone clicks Connect.
  fetch(new URL('switchboard.wasm', import.meta.url), { method: 'HEAD', cache: 'no-store' })
    .then((res) => {
      if (res.status === 404) showNotBuilt();
    })
    .catch(() => {});

  setState('idle');

  connectForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (client) return;
    const n = name.value.trim();
    const s = session.value.trim();
    const errors = [[name, checkName(n)], [session, checkSession(s)]];
    let first = null;
    for (const [input, msg] of errors) {
      setFieldError(input, msg);
      if (msg && !first) first = input;
    }
    if (first) {
      first.focus();
      return;
    }
    showError(null);
    setState('loading');
    let sb;
    try {
      sb = await load();
    } catch (err) {
      setState('failed');
      if (err?.code === 'not_built') {
        showNotBuilt(err.message);
        showError({ message: NOT_BUILT });
      } else {
        showError(err, 'Could not load the browser client: ');
      }
      return;
    }
    q('pg-version').textContent = sb.version ? `client ${sb.version}` : '';
    setState('connecting');
    try {
      closing = false;
      const c = await sb.connect({
        url: url.value.trim(),
        name: n,
        sessionId: s,
        passphrase: passphrase.value || undefined,
        token: token.value || undefined,
        signed: signed.checked || undefined,
        reconnect: true,
        onState: (st) => onState(st),
        onError: (err) => {
          showError(err);
          if (err?.code && ERROR_HINTS[err.code]) toast(`Playground: ${ERROR_HINTS[err.code]}`, 'error');
        },
      });
      client = c;
      c.onDefault((msg) => addMessage(msg, true));
      setState('connected', describe(c));
      q('pg-client-id').textContent = `as ${c.name} (${c.clientId}) in ${c.sessionId}`;
    } catch (err) {
      client = null;
      setState('failed');
      showError(err, 'Could not connect: ');
    }
  });

  function describe(c) {
    return c.encrypted ? '🔒 end-to-end encrypted' : 'not encrypted';
  }

  function onState(st) {
    if (!client && st !== 'closed') return; // during connect(): the form shows 'connecting'
    if (st === 'closed') {
      reset(closing ? '' : 'The connection was closed.');
      return;
    }
    setState(st, client ? describe(client) : '');
    if (st === 'connected' && client) q('pg-client-id').textContent = `as ${client.name} (${client.clientId}) in ${client.sessionId}`;
  }

  function reset(message) {
    client = null;
    subscriptions.clear();
    subsList.replaceChildren();
    q('pg-client-id').textContent = '';
    setState('closed');
    if (message) showError({ message });
  }

  disconnectBtn.addEventListener('click', async () => {
    if (!client) return;
    closing = true;
    const c = client;
    try {
      await c.close();
    } catch (err) {
      showError(err, 'Close failed: ');
    }
    if (client === c) reset('');
    connectBtn.focus();
  });

  pingBtn.addEventListener('click', async () => {
    if (!client) return;
    try {
      const ms = await client.ping();
      q('pg-info').textContent = `${describe(client)} · ping ${Math.round(ms)} ms`;
    } catch (err) {
      showError(err, 'Ping failed: ');
    }
  });

  q('pg-subscribe-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = q('pg-subscribe-pattern');
    const pattern = input.value.trim();
    const msg = checkPattern(pattern);
    setFieldError(input, msg);
    if (msg) {
      input.focus();
      return;
    }
    if (!client || subscriptions.has(pattern)) return;
    // Presence events and gap reports exist for topics, not for patterns.
    const options = isTopic(pattern) ? { presence: addPresenceEvent, onGap: addGap } : undefined;
    try {
      const sub = await client.subscribe(pattern, (m) => addMessage(m, false), options);
      subscriptions.set(pattern, sub);
      renderSubscriptions();
      showError(null);
    } catch (err) {
      showError(err, `Subscribing to ${pattern} failed: `);
    }
  });

  function renderSubscriptions() {
    subsList.replaceChildren(...[...subscriptions.keys()].map((pattern) => h('li', { 'data-testid': 'pg-subscription', 'data-pattern': pattern },
      h('code', { text: pattern }),
      isTopic(pattern)
        ? h('button', {
          type: 'button', class: 'chip-action', 'aria-label': `Who’s here on ${pattern}`,
          'data-testid': 'pg-presence', onclick: () => showMembers(pattern),
        }, 'who’s here')
        : null,
      h('button', {
        type: 'button', class: 'chip-remove', 'aria-label': `Unsubscribe from ${pattern}`,
        'data-testid': 'pg-unsubscribe',
        onclick: async () => {
          const sub = subscriptions.get(pattern);
          if (!sub) return;
          try {
            await sub.unsubscribe();
            subscriptions.delete(pattern);
            renderSubscriptions();
            q('pg-subscribe-pattern').focus();
          } catch (err) {
            showError(err, `Unsubscribing from ${pattern} failed: `);
          }
        },
      }, h('span', { 'aria-hidden': 'true', text: '×' })))));
  }

  q('pg-publish-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const topicInput = q('pg-publish-topic');
    const payloadInput = q('pg-publish-payload');
    const topic = topicInput.value.trim();
    const parsed = parsePayload(payloadInput.value);
    const topicErr = checkTopic(topic);
    setFieldError(topicInput, topicErr);
    setFieldError(payloadInput, parsed.error || '');
    if (topicErr || parsed.error) {
      (topicErr ? topicInput : payloadInput).focus();
      return;
    }
    if (!client) return;
    const result = q('pg-publish-result');
    try {
      const seq = await client.publish(topic, parsed.value);
      result.textContent = `Published, seq ${seq}${client.encrypted ? ' (encrypted)' : ''}.`;
      result.dataset.kind = 'success';
    } catch (err) {
      result.textContent = '';
      showError(err, 'Publish failed: ');
    }
  });

  async function showMembers(topic) {
    if (!client) return;
    try {
      const members = await client.presence(topic);
      const who = members.map((m) => `${m.name} (${m.clientId})`).join(', ');
      prepend(h('li', { class: 'pg-message pg-note', 'data-testid': 'pg-members', 'data-topic': topic, 'data-count': members.length },
        h('code', { class: 'pg-topic', text: topic }), `: ${members.length ? who : 'nobody'}`));
    } catch (err) {
      showError(err, `Listing who subscribes to ${topic} failed: `);
    }
  }

  function addPresenceEvent(ev) {
    const verb = ev.event === 'join' ? 'joined' : ev.event === 'leave' ? 'left' : ev.event;
    prepend(h('li', {
      class: 'pg-message pg-note', 'data-testid': 'pg-presence-event', 'data-event': ev.event,
      'data-topic': ev.topic, 'data-client-id': ev.clientId, 'data-name': ev.name,
    }, h('span', { 'aria-hidden': 'true', text: ev.event === 'join' ? '→ ' : '← ' }),
    h('strong', { text: ev.name }), h('span', { class: 'muted', text: ` (${ev.clientId})` }),
    ` ${verb} `, h('code', { class: 'pg-topic', text: ev.topic })));
  }

  function addGap(info) {
    prepend(h('li', { class: 'pg-message pg-note', 'data-testid': 'pg-gap', 'data-kind': 'gap', 'data-topic': info.topic },
      'Messages missed on ', h('code', { class: 'pg-topic', text: info.topic }),
      ` after seq ${info.lastSeq} could not be recovered (${info.reason}); live again after seq ${info.seq}.`));
  }

  function prepend(item) {
    messages.prepend(item);
    while (messages.children.length > MESSAGES_MAX) messages.lastElementChild.remove();
    q('pg-messages-empty').hidden = true;
  }

  function addMessage(msg, direct) {
    const ts = parseTime(msg.timestamp);
    let body;
    try {
      body = JSON.stringify(msg.payload, null, 2);
    } catch {
      body = String(msg.payload);
    }
    const meta = [
      h('code', { class: 'pg-topic', text: msg.topic }),
      h('span', { class: 'muted', text: ` from ${msg.publisherName || '?'}` }),
      msg.seq != null ? h('span', { class: 'muted', text: ` · seq ${msg.seq}` }) : null,
      direct ? h('span', { class: 'badge badge-quiet', text: msg.from ? 'direct' : 'server' }) : null,
      msg.encrypted
        ? h('span', { class: 'lock-badge', 'data-testid': 'pg-encrypted-badge' },
          h('span', { 'aria-hidden': 'true', text: '🔒' }), ' end-to-end encrypted')
        : null,
      ts ? h('time', { class: 'muted small', datetime: ts.toISOString(), title: formatDateTime(ts), text: ` ${formatClock(ts)}` }) : null,
    ];
    const item = h('li', {
      class: 'pg-message', 'data-testid': 'pg-message', 'data-topic': msg.topic, 'data-encrypted': String(!!msg.encrypted),
    }, h('div', { class: 'pg-meta' }, meta), h('pre', { class: 'pg-payload', text: body }));
    prepend(item);
  }

  window.addEventListener('pagehide', () => {
    closing = true;
    client?.close().catch(() => {});
  });
}

/** A topic has no wildcard token (presence and recovery apply to topics only). */
const isTopic = (pattern) => !/(^|\.)[*>](\.|$)/.test(pattern);

function defaultWsUrl() {
  if (!/^https?:$/.test(location.protocol)) return 'ws://localhost:8080/ws';
  const u = new URL('ws', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  u.search = '';
  u.hash = '';
  return u.href;
}
