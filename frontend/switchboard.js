// Switchboard browser client loader.
//
//   import { load } from 'http://localhost:8080/switchboard.js';
//   const sb = await load();
//   const client = await sb.connect({ url: 'ws://localhost:8080/ws', name: 'web-1', sessionId: 'demo' });
//
// load() fetches Go's wasm_exec.js and switchboard.wasm from the server that
// served this file (or options.baseUrl), starts the Go program once per page
// and resolves to the JavaScript API the program registers. The API is
// described in switchboard.d.ts, next to this file.
//
// Contract with the Go program (wasmclient): before go.run(instance) the
// loader sets globalThis.__switchboardReady; the program's main calls it once
// with the API object when it is ready (or with (null, error) if it cannot
// start), then keeps running (`select {}`).

const READY = '__switchboardReady';
const DEFAULT_TIMEOUT_MS = 20_000;
const BUILD_HINT = 'run `go tool task build` (it builds switchboard.wasm and copies wasm_exec.js) and restart the server';

// One Go runtime per page, even if several copies of this module are loaded
// (e.g. from URLs that differ in a query string): the state lives on
// globalThis under a registered symbol.
const STATE = Symbol.for('switchboard.loader');
const shared = (globalThis[STATE] ??= { promise: null, baseUrl: null, goScript: null });

/**
 * Loads and starts the Switchboard WebAssembly client.
 *
 * @param {{baseUrl?: string|URL, timeoutMs?: number}} [options]
 *   baseUrl: where switchboard.wasm and wasm_exec.js are (default: the
 *   directory this module was loaded from). timeoutMs: default 20000.
 * @returns {Promise<object>} the API (see switchboard.d.ts). A second call
 *   returns the same promise.
 */
export function load(options = {}) {
  let base;
  try {
    base = baseOf(options.baseUrl);
  } catch (err) {
    return Promise.reject(err);
  }
  if (shared.promise) {
    if (shared.baseUrl !== base.href) {
      console.warn(`switchboard: already loaded from ${shared.baseUrl}; ignoring baseUrl ${base.href}`);
    }
    return shared.promise;
  }
  const state = { started: false };
  const promise = start(base, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, state);
  shared.promise = promise;
  shared.baseUrl = base.href;
  promise.catch(() => {
    // Failures before the Go program started may be retried (e.g. after the
    // build); once it runs, a second runtime would fight over globals.
    if (!state.started && shared.promise === promise) {
      shared.promise = null;
      shared.baseUrl = null;
    }
  });
  return promise;
}

function baseOf(baseUrl) {
  let url;
  try {
    url = new URL(baseUrl ?? '.', baseUrl ? globalThis.location?.href : import.meta.url);
  } catch (err) {
    throw loadError('load_failed', `switchboard: invalid baseUrl ${String(baseUrl)}`, err);
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function loadError(code, message, cause) {
  const err = new Error(message, cause ? { cause } : undefined);
  err.name = 'SwitchboardLoadError';
  err.code = code;
  return err;
}

async function start(base, timeoutMs, state) {
  const abort = new AbortController();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const err = loadError('timeout',
        `The Switchboard browser client did not start within ${timeoutMs / 1000} s (from ${base.href}). ` +
        'Check that the server is reachable, then reload the page.');
      abort.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([boot(base, abort.signal, state), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function boot(base, signal, state) {
  const wasmUrl = new URL('switchboard.wasm', base);
  const execUrl = new URL('wasm_exec.js', base);

  // Fetch the module while wasm_exec.js loads; the wasm's status decides
  // the message when both fail (an unbuilt server lacks both).
  const [goResult, resResult] = await Promise.allSettled([
    ensureGo(execUrl),
    fetchWasm(wasmUrl, signal),
  ]);
  if (resResult.status === 'rejected') throw resResult.reason;
  if (goResult.status === 'rejected') throw goResult.reason;
  const response = resResult.value;

  const go = new globalThis.Go();
  const instance = await instantiate(response, wasmUrl, go.importObject, signal);
  if (signal.aborted) throw signal.reason;

  let onReady;
  let onFailed;
  const ready = new Promise((resolve, reject) => {
    onReady = resolve;
    onFailed = reject;
  });
  globalThis[READY] = (api, error) => {
    delete globalThis[READY];
    if (error != null) {
      onFailed(loadError('start_failed', `The Switchboard browser client could not start: ${error?.message ?? error}`, error));
    } else if (api == null || (typeof api !== 'object' && typeof api !== 'function')) {
      onFailed(loadError('start_failed', 'The Switchboard browser client started without an API object.'));
    } else {
      onReady(api);
    }
  };

  state.started = true;
  let exited;
  try {
    exited = go.run(instance);
  } catch (err) {
    delete globalThis[READY];
    throw loadError('start_failed', `The Switchboard browser client crashed at start: ${err?.message ?? err}`, err);
  }
  const early = Promise.resolve(exited).then(
    () => { throw loadError('start_failed', 'The Switchboard browser client exited before it was ready. Reload the page.'); },
    (err) => { throw loadError('start_failed', `The Switchboard browser client crashed: ${err?.message ?? err}. Reload the page.`, err); },
  );
  early.catch(() => {}); // only matters while racing `ready`
  return Promise.race([ready, early]);
}

/** Makes sure globalThis.Go exists, loading wasm_exec.js at most once. */
function ensureGo(url) {
  if (typeof globalThis.Go === 'function') return Promise.resolve();
  if (shared.goScript) return shared.goScript;
  const failed = (cause) => loadError('not_built',
    `Could not load ${url.href}: ${BUILD_HINT}.`, cause);
  let p;
  if (typeof document !== 'undefined') {
    // A classic <script> works across origins without CORS and under a CSP
    // that forbids eval.
    p = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = url.href;
      script.async = true;
      script.onload = () => resolve();
      script.onerror = () => {
        script.remove();
        reject(failed());
      };
      (document.head ?? document.documentElement).append(script);
    });
  } else if (typeof importScripts === 'function') {
    p = new Promise((resolve, reject) => {
      try {
        importScripts(url.href); // classic worker
        resolve();
      } catch (err) {
        reject(failed(err));
      }
    });
  } else {
    p = fetch(url).then(async (res) => {
      if (!res.ok) throw failed();
      (0, eval)(await res.text()); // module worker: no importScripts
    });
  }
  shared.goScript = p.then(() => {
    if (typeof globalThis.Go !== 'function') {
      throw loadError('load_failed', `${url.href} loaded but did not define Go: is it Go's wasm_exec.js?`);
    }
  });
  shared.goScript.catch(() => {
    shared.goScript = null;
  });
  return shared.goScript;
}

async function fetchWasm(url, signal) {
  let res;
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw loadError('load_failed',
      `Could not fetch ${url.href}: ${err?.message ?? err}. Is the Switchboard server running, and does it allow this origin (CORS)?`, err);
  }
  if (res.status === 404) {
    throw loadError('not_built', `The browser client is not built (${url.href} answered 404): ${BUILD_HINT}.`);
  }
  if (!res.ok) {
    throw loadError('load_failed', `Could not fetch ${url.href}: HTTP ${res.status}.`);
  }
  return res;
}

async function instantiate(response, url, imports, signal) {
  const type = response.headers.get('content-type') || '';
  if (typeof WebAssembly.instantiateStreaming === 'function' && /^application\/wasm\b/i.test(type)) {
    try {
      const { instance } = await WebAssembly.instantiateStreaming(response, imports);
      return instance;
    } catch (err) {
      if (err instanceof WebAssembly.LinkError) throw incompatible(url, err);
      if (err instanceof WebAssembly.CompileError) throw corrupt(url, err);
      // Anything else (e.g. a proxy that rewrote the body): retry without streaming.
      response = await fetchWasm(url, signal);
    }
  }
  const bytes = await response.arrayBuffer();
  const head = new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength));
  if (head.length < 4 || head[0] !== 0x00 || head[1] !== 0x61 || head[2] !== 0x73 || head[3] !== 0x6d) {
    // e.g. an HTML fallback page served with status 200
    throw loadError('not_built', `${url.href} is not a WebAssembly module (content type ${type || 'none'}): ${BUILD_HINT}.`);
  }
  try {
    const { instance } = await WebAssembly.instantiate(bytes, imports);
    return instance;
  } catch (err) {
    if (err instanceof WebAssembly.LinkError) throw incompatible(url, err);
    throw corrupt(url, err);
  }
}

function incompatible(url, err) {
  return loadError('incompatible',
    `${url.href} does not match wasm_exec.js (built with another Go version?): ${BUILD_HINT}. (${err.message})`, err);
}

function corrupt(url, err) {
  return loadError('load_failed', `${url.href} could not be compiled: ${err.message}. Rebuild it: ${BUILD_HINT}.`, err);
}
