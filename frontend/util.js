// Small DOM and formatting helpers shared by the dashboard modules.
//
// Everything that comes from the server (names, topics, payload previews) is
// untrusted: it only ever reaches the page through textContent and attribute
// values, never through innerHTML.

/** querySelector with an optional root. */
export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * Creates an element. props: `class`, `text`, `dataset` (object), `on<event>`
 * (listener), anything else becomes an attribute (true → empty attribute;
 * null, undefined and false are skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  el.append(...flatChildren(children));
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an SVG element with attributes. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, attrs);
  el.append(...flatChildren(children));
  return el;
}

function applyProps(el, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.setAttribute('class', value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function flatChildren(children) {
  return children.flat(Infinity).filter((c) => c != null && c !== false)
    .map((c) => (typeof c === 'string' || typeof c === 'number' ? String(c) : c));
}

/**
 * Keyed update of a container's children: creates elements for new keys,
 * updates existing ones in place (so focus and open state survive a
 * refresh), removes the rest and keeps the order of `items`. The container
 * must hold only elements managed here.
 */
export function reconcile(container, items, { key, create, update }) {
  let map = keyed.get(container);
  if (!map) {
    map = new Map();
    keyed.set(container, map);
  }
  const seen = new Set();
  let prev = null;
  for (const item of items) {
    const k = key(item);
    if (seen.has(k)) continue; // duplicate keys: keep the first
    let el = map.get(k);
    if (!el) {
      el = create(item);
      map.set(k, el);
    }
    update(el, item);
    const want = prev ? prev.nextElementSibling : container.firstElementChild;
    if (want !== el) container.insertBefore(el, want);
    prev = el;
    seen.add(k);
  }
  for (const [k, el] of map) {
    if (!seen.has(k)) {
      el.remove();
      map.delete(k);
    }
  }
}
const keyed = new WeakMap();

let idCounter = 0;
/** A document-unique id for aria-labelledby and label/for pairs. */
export const uid = (prefix = 'sb') => `${prefix}-${++idCounter}`;

// ---- formatting ----------------------------------------------------------

const integer = new Intl.NumberFormat('en');
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const oneDecimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

/** 1234 → "1,234"; 1234567 → "1.2M". Non-numbers → "–". */
export function formatCount(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  return Math.abs(n) >= 100_000 ? compact.format(n) : integer.format(n);
}

/** A rate per second: "0", "2.5", "340", "12K". */
export function formatRate(x) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  if (Math.abs(x) < 10) return oneDecimal.format(x);
  return Math.abs(x) >= 10_000 ? compact.format(x) : integer.format(Math.round(x));
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
/** 1536 → "1.5 KiB". */
export function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? integer.format(v) : oneDecimal.format(v)} ${UNITS[i]}`;
}

/** Parses an RFC 3339 string (or a number of ms); null when invalid. */
export function parseTime(value) {
  if (value == null || value === '') return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'long' });
const STEPS = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "just now", "12 seconds ago", "3 minutes ago", "2 hours ago". */
export function relativeTime(date, now = Date.now()) {
  if (!date) return '–';
  const seconds = Math.round((date.getTime() - now) / 1000);
  if (Math.abs(seconds) < 5) return 'just now';
  for (const [unit, size] of STEPS) {
    if (Math.abs(seconds) >= size || unit === 'second') {
      return relative.format(Math.trunc(seconds / size), unit);
    }
  }
  return '–';
}

/** Local wall-clock time with milliseconds: "14:03:07.120". */
export function formatClock(date) {
  if (!date) return '–';
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** Full local date and time, for title attributes. */
export function formatDateTime(date) {
  return date ? date.toLocaleString('en', { dateStyle: 'medium', timeStyle: 'medium' }) : '';
}

// ---- validation (PROTOCOL.md, "Names") -------------------------------------

const NAME_RE = /^[A-Za-z0-9_.\-@:]{1,64}$/;
const SESSION_RE = /^[A-Za-z0-9_.\-@:]{1,128}$/;
const TOKEN = '[A-Za-z0-9_\\-:]+';
const TOPIC_RE = new RegExp(`^\\$?${TOKEN}(\\.${TOKEN})*$`);
const PATTERN_TOKEN = `(?:${TOKEN}|\\*)`;
const PATTERN_RE = new RegExp(`^(?:\\$?${TOKEN}|\\*)(\\.${PATTERN_TOKEN})*(\\.>)?$|^>$`);

const byteLength = (s) => new TextEncoder().encode(s).length;

/** Returns an error message, or '' when the value is a valid client name. */
export function checkName(value) {
  if (!value) return 'Enter a name.';
  return NAME_RE.test(value) ? '' : 'A name is 1–64 characters from A–Z a–z 0–9 _ . - @ :';
}

/** Returns an error message, or '' when the value is a valid session id. */
export function checkSession(value) {
  if (!value) return 'Enter a session id.';
  return SESSION_RE.test(value) ? '' : 'A session id is 1–128 characters from A–Z a–z 0–9 _ . - @ :';
}

/** Returns an error message, or '' when the value is a topic (no wildcards). */
export function checkTopic(value) {
  if (!value) return 'Enter a topic.';
  if (/[*>]/.test(value)) return 'A topic to publish to cannot contain the wildcards * or >.';
  if (byteLength(value) > 256 || !TOPIC_RE.test(value)) {
    return 'A topic is dot-separated tokens of A–Z a–z 0–9 _ - : (at most 256 bytes), e.g. chat.room1';
  }
  return '';
}

/** Returns an error message, or '' when the value is a subscription pattern. */
export function checkPattern(value) {
  if (!value) return 'Enter a topic or pattern.';
  if (byteLength(value) > 256 || !PATTERN_RE.test(value)) {
    return 'A pattern is a topic where a whole token may be * (one token) or the last token > (one or more), e.g. chat.>';
  }
  return '';
}

/**
 * Parses a payload field. Returns { value } or { error } with a message that
 * points at the problem.
 */
export function parsePayload(text) {
  const trimmed = text.trim();
  if (trimmed === '') return { error: 'Enter a JSON value, e.g. {"text":"hello"}, "hello", 42 or null.' };
  try {
    return { value: JSON.parse(trimmed) };
  } catch (err) {
    const hint = /^[A-Za-z]/.test(trimmed) && !/^(true|false|null)\b/.test(trimmed)
      ? ' Text must be quoted: "like this".'
      : '';
    return { error: `The payload is not valid JSON: ${err.message}.${hint}` };
  }
}

/** Sets or clears a field's error text and its aria-invalid state. */
export function setFieldError(input, message) {
  const id = input.getAttribute('aria-describedby')?.split(' ').find((x) => x.endsWith('-error'));
  const box = id ? document.getElementById(id) : null;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
  if (box) {
    box.textContent = message || '';
    box.hidden = !message;
  }
}

/** Promise-based sleep that an AbortSignal can cut short (resolves early). */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

const DURATION_UNITS = [['d', 86_400], ['h', 3600], ['min', 60], ['s', 1]];

/** A duration in ms by its two largest units: "45 s", "3 min 12 s", "2 h", "3 d 4 h". Negative counts as 0. */
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  let rest = Math.floor(Math.max(0, ms) / 1000);
  const parts = [];
  for (const [unit, size] of DURATION_UNITS) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (parts.length) {
      if (n) parts.push(`${n} ${unit}`);
      break;
    }
    if (n) parts.push(`${n} ${unit}`);
  }
  return parts.length ? parts.join(' ') : '0 s';
}
