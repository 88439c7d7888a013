// Times the loader's start-up: import switchboard.js, then load() until the
// API object is ready (fetch, compile and instantiate switchboard.wasm,
// run the Go program). ?base= is where switchboard.js and the wasm are.
const base = new URLSearchParams(location.search).get('base') || './';
const t0 = performance.now();
const { load } = await import(new URL('switchboard.js', new URL(base, location.href)).href);
const t1 = performance.now();
const sb = await load();
const t2 = performance.now();
const wasm = performance.getEntriesByType('resource').find((e) => e.name.includes('switchboard.wasm'));
return {
  importMs: Math.round(t1 - t0),
  loadMs: Math.round(t2 - t1),
  wasmFetchMs: wasm ? Math.round(wasm.responseEnd - wasm.startTime) : null,
  ready: typeof sb.connect === 'function',
};
