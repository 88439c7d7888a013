// The admin HTTP API (PROTOCOL.md, "Server-side HTTP API") and the live
// event stream GET /api/v1/events.
//
// Every call sends `Authorization: Bearer <token>` and never cookies
// (credentials: 'omit'). Errors become ApiError with the server's
// {code, message} when it sent one, else a message built from the status.

import { sleep } from './util.js';

const DEFAULT_TIMEOUT_MS = 10_000;

/** An admin API failure: HTTP status (0 when no response), stable code, message. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = 'network', cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** True for the statuses that mean "this server has no such endpoint". */
  get missing() {
    return this.status === 404 || this.status === 405 || this.status === 501;
  }
}

const STATUS_CODES = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found',
  409: 'conflict', 413: 'too_large', 429: 'rate_limited', 501: 'unsupported',
};

async function readBody(res) {
  let text = '';
  try {
    text = await res.text();
  } catch {
    return { json: null, text: '' };
  }
  if (text.trim() === '') return { json: null, text };
  try {
    return { json: JSON.parse(text), text };
  } catch {
    return { json: undefined, text };
  }
}

function errorFrom(res, json, what) {
  const code = json && typeof json.code === 'string' ? json.code : STATUS_CODES[res.status] || 'http_error';
  let message;
  if (json && typeof json.message === 'string' && json.message) {
    message = json.message;
  } else if (res.status === 401) {
    message = 'The admin token was rejected.';
  } else if (res.status === 404) {
    message = `${what} is not available on this server (HTTP 404).`;
  } else {
    message = `${what} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`;
  }
  return new ApiError(message, { status: res.status, code });
}

/** Path segment encoding that keeps the ':', '@' and '$' of session ids and topics. */
function segment(value) {
  return encodeURIComponent(String(value)).replace(/%3A/gi, ':').replace(/%40/g, '@').replace(/%24/g, '$');
}

/** Accepts a bare array or an object wrapping it under `key`. */
function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === 'object') {
    if (Array.isArray(data[key])) return data[key];
    if (Array.isArray(data.items)) return data.items;
    if (Array.isArray(data.data)) return data.data;
  }
  throw new ApiError(`The server's answer is not a list of ${key}.`, { code: 'bad_response' });
}

export class AdminApi {
  /**
   * @param {{token: string, base?: string|URL}} options base defaults to
   *   `api/v1/` next to the page, so the dashboard also works behind a prefix.
   */
  constructor({ token, base = new URL('api/v1/', location.href) }) {
    this.token = token;
    this.base = new URL(base);
  }

  url(path) {
    return new URL(path, this.base);
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  async call(method, path, body, { what = `${method} /api/v1/${path}`, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    const headers = this.headers({ Accept: 'application/json' });
    const init = {
      method,
      headers,
      credentials: 'omit',
      cache: 'no-store',
      signal: AbortSignal.timeout(timeoutMs),
    };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(this.url(path), init);
    } catch (err) {
      if (err?.name === 'TimeoutError') {
        throw new ApiError(`${what}: no answer within ${timeoutMs / 1000} s.`, { code: 'timeout', cause: err });
      }
      throw new ApiError(`Cannot reach the server (${what}).`, { code: 'network', cause: err });
    }
    const { json } = await readBody(res);
    if (!res.ok) throw errorFrom(res, json, what);
    if (json === undefined) {
      throw new ApiError(`${what}: the server's answer is not JSON.`, { status: res.status, code: 'bad_response' });
    }
    return json;
  }

  /** GET /api/v1/clients[?session_id=S] → array of clients. */
  async listClients(sessionId) {
    const q = sessionId ? `?session_id=${encodeURIComponent(sessionId)}` : '';
    return listOf(await this.call('GET', `clients${q}`, undefined, { what: 'Listing clients' }), 'clients');
  }

  /** GET /api/v1/sessions → array of sessions. */
  async listSessions() {
    return listOf(await this.call('GET', 'sessions', undefined, { what: 'Listing sessions' }), 'sessions');
  }

  /**
   * GET /api/v1/cluster → {mode: 'single'|'cluster', node, epoch?, nodes:
   * [{id, addr, nats, version, started, clients, sessions, self}]}: the
   * nodes this server knows of (one, itself, without NATS).
   */
  async cluster() {
    const data = await this.call('GET', 'cluster', undefined, { what: 'Reading the cluster' });
    if (!data || typeof data !== 'object' || !Array.isArray(data.nodes)) {
      throw new ApiError("The server's answer is not a cluster description.", { code: 'bad_response' });
    }
    return data;
  }

  /** POST /api/v1/sessions/{id}/publish → {seq, delivered}. */
  publish(sessionId, { topic, payload, publisherName }) {
    const body = { topic, payload };
    if (publisherName) body.publisher_name = publisherName;
    return this.call('POST', `sessions/${segment(sessionId)}/publish`, body, { what: 'Publishing' });
  }

  /** POST /api/v1/clients/{id}/send → whatever the server answers (may be empty). */
  send(clientId, { topic, payload }) {
    return this.call('POST', `clients/${segment(clientId)}/send`, { topic, payload }, { what: 'Sending' });
  }

  /** POST /api/v1/broadcast → {delivered}. */
  broadcast({ topic, payload }) {
    return this.call('POST', 'broadcast', { topic, payload }, { what: 'Broadcasting' });
  }

  /**
   * GET /api/v1/sessions/{id}/topics/{topic}/presence → the clients
   * subscribed to the topic (exactly, not through a wildcard), as
   * [{client_id, name}], sorted by name.
   */
  async presence(sessionId, topic) {
    const data = await this.call('GET', `sessions/${segment(sessionId)}/topics/${segment(topic)}/presence`, undefined,
      { what: 'Listing who subscribes' });
    return listOf(data, 'clients');
  }

  /**
   * GET /api/v1/sessions/{id}/history?topic=T&limit=N → {epoch, seq,
   * first_seq, messages: [message objects, oldest first], more?}: the latest
   * `limit` messages kept. A 404 (code not_found) means the session has no
   * such topic (never used, or expired).
   */
  history(sessionId, topic, { limit } = {}) {
    const q = new URLSearchParams({ topic });
    if (limit) q.set('limit', String(limit));
    return this.call('GET', `sessions/${segment(sessionId)}/history?${q}`, undefined, { what: 'Reading the history' });
  }

  /** DELETE /api/v1/clients/{id}: the server closes it with 4003. */
  disconnect(clientId) {
    return this.call('DELETE', `clients/${segment(clientId)}`, undefined, { what: 'Disconnecting' });
  }
}

/**
 * Reads GET /api/v1/events (newline-delimited JSON) with fetch and a body
 * reader, because EventSource cannot send an Authorization header.
 * Reconnects with exponential backoff (1 s doubling to 30 s, with jitter).
 * When the server has no such endpoint (404/405/501) it reports
 * 'unavailable' and probes again every minute.
 *
 * onStatus(status, detail): 'connecting' | 'open' | 'retrying' {delayMs,
 * error} | 'unavailable' {error} | 'unauthorized' {error} | 'stopped'.
 */
export class EventStream {
  constructor({ api, onEvent, onStatus, stallMs = 15_000 }) {
    this.api = api;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.stallMs = stallMs;
    this.stopper = new AbortController();
    this.status = 'stopped';
  }

  start() {
    this.loop();
    return this;
  }

  stop() {
    this.stopper.abort();
    this.current?.abort();
    this.setStatus('stopped');
  }

  setStatus(status, detail = {}) {
    this.status = status;
    this.onStatus?.(status, detail);
  }

  async loop() {
    const stopped = this.stopper.signal;
    let attempt = 0;
    while (!stopped.aborted) {
      this.setStatus('connecting');
      let error;
      let gotData = false;
      try {
        gotData = await this.readOnce(() => {
          attempt = 0;
        });
        error = new ApiError('The event stream ended.', { code: 'closed' });
      } catch (err) {
        error = err;
      }
      if (stopped.aborted) return;
      if (error.status === 401) {
        this.setStatus('unauthorized', { error });
        return;
      }
      if (error.missing || error.code === 'unavailable') {
        this.setStatus('unavailable', { error });
        await sleep(60_000, stopped);
        attempt = 0;
        continue;
      }
      if (gotData) attempt = 0;
      const base = Math.min(30_000, 1000 * 2 ** attempt);
      const delayMs = Math.round(base * (0.8 + Math.random() * 0.4));
      attempt++;
      this.setStatus('retrying', { delayMs, error });
      await sleep(delayMs, stopped);
    }
  }

  /** One connection; resolves (true if any event arrived) when the server ends it. */
  async readOnce(onFirstEvent) {
    const ctrl = new AbortController();
    this.current = ctrl;
    let stallTimer;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => ctrl.abort(), this.stallMs);
    };
    armStall(); // also bounds the wait for the response headers
    let res;
    try {
      res = await fetch(this.api.url('events'), {
        headers: this.api.headers({ Accept: 'application/x-ndjson' }),
        credentials: 'omit',
        cache: 'no-store',
        signal: AbortSignal.any([ctrl.signal, this.stopper.signal]),
      });
    } catch (err) {
      clearTimeout(stallTimer);
      throw new ApiError('Cannot reach the event stream.', { code: 'network', cause: err });
    }
    if (!res.ok) {
      clearTimeout(stallTimer);
      const { json } = await readBody(res);
      throw errorFrom(res, json, 'The live event stream');
    }
    const type = res.headers.get('content-type') || '';
    if (/text\/html/i.test(type) || !res.body) {
      clearTimeout(stallTimer);
      res.body?.cancel().catch(() => {});
      throw new ApiError('The server does not provide a live event stream.', { status: res.status, code: 'unavailable' });
    }
    this.setStatus('open');
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let gotData = false;
    armStall();
    try {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw new ApiError(ctrl.signal.aborted && !this.stopper.signal.aborted
            ? `The event stream was silent for ${this.stallMs / 1000} s.`
            : 'The event stream was interrupted.', { code: 'network', cause: err });
        }
        if (chunk.done) break;
        armStall();
        buffer += decoder.decode(chunk.value, { stream: true });
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          let event;
          try {
            event = JSON.parse(line);
          } catch {
            continue; // a corrupt line: skip it, keep the stream
          }
          if (event && typeof event === 'object' && typeof event.type === 'string') {
            if (!gotData) onFirstEvent();
            gotData = true;
            try {
              this.onEvent(event);
            } catch (err) {
              console.error('switchboard dashboard: event handler failed', err);
            }
          }
        }
        if (buffer.length > 4 << 20) buffer = ''; // a line that never ends
      }
    } finally {
      clearTimeout(stallTimer);
      reader.cancel().catch(() => {});
    }
    return gotData;
  }
}
