// Drives one page in a Chromium started with --remote-debugging-port, over
// the DevTools protocol (no npm packages: Node's WebSocket, which Node 20
// enables with --experimental-websocket):
//
//   node --experimental-websocket cdp.mjs DEBUG_PORT PAGE_URL SCRIPT.js
//
// With NOCACHE=1 the tab's HTTP cache is disabled (cold loads).
// It opens PAGE_URL in a new tab, waits for the load event, evaluates
// SCRIPT.js (an async function body; its return value is printed as JSON),
// prints the page's console messages and exceptions to stderr, and exits 1
// if the script threw.
import { readFile } from 'node:fs/promises';

const [port, pageUrl, scriptFile] = process.argv.slice(2);
const body = await readFile(scriptFile, 'utf8');

const target = await (await fetch(`http://127.0.0.1:${port}/json/new?about:blank`, { method: 'PUT' })).json();
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });

let next = 0;
const pending = new Map();
const waiters = [];
ws.onmessage = (ev) => {
  const msg = JSON.parse(ev.data);
  if (msg.id != null) {
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) p.fail(new Error(JSON.stringify(msg.error)));
    else p.ok(msg.result);
    return;
  }
  if (msg.method === 'Runtime.consoleAPICalled') {
    console.error(`[console.${msg.params.type}]`, msg.params.args.map((a) => a.value ?? a.description).join(' '));
  } else if (msg.method === 'Runtime.exceptionThrown') {
    console.error('[exception]', msg.params.exceptionDetails.exception?.description ?? msg.params.exceptionDetails.text);
  }
  for (const w of waiters.splice(0)) {
    if (w.method === msg.method) w.ok(msg.params); else waiters.push(w);
  }
};
const send = (method, params = {}) => new Promise((ok, fail) => {
  const id = ++next;
  pending.set(id, { ok, fail });
  ws.send(JSON.stringify({ id, method, params }));
});
const once = (method) => new Promise((ok) => waiters.push({ method, ok }));

await send('Page.enable');
await send('Runtime.enable');
if (process.env.NOCACHE) {
  await send('Network.enable');
  await send('Network.setCacheDisabled', { cacheDisabled: true });
}
const loaded = once('Page.loadEventFired');
await send('Page.navigate', { url: pageUrl });
await loaded;
const res = await send('Runtime.evaluate', {
  expression: `(async () => { ${body} })()`,
  awaitPromise: true,
  returnByValue: true,
});
ws.close();
await fetch(`http://127.0.0.1:${port}/json/close/${target.id}`);
if (res.exceptionDetails) {
  console.error('script failed:', res.exceptionDetails.exception?.description ?? res.exceptionDetails.text);
  process.exit(1);
}
console.log(JSON.stringify(res.result.value, null, 2));
