// Loads the client from this page's own origin (check.html's directory),
// times load(), then exercises the API between two clients, encryption
// included. Returns the timings and what was received.
const server = new URLSearchParams(location.search).get('ws');
const t0 = performance.now();
const { load } = await import('./switchboard.js');
const sb = await load();
const loadMs = performance.now() - t0;
const session = 'browser-api-' + Date.now();
const errors = [];
const a = await sb.connect({ url: server, name: 'alice', sessionId: session, onError: (e) => errors.push(e.code) });
const b = await sb.connect({ url: server, name: 'bob', sessionId: session });
const got = [];
const sub = await b.subscribe('chat.>', (m) => got.push(m));
const seq = await a.publish('chat.room1', { text: 'hi' });
await b.onRequest('math.double', (m) => m.payload * 2);
const reply = await a.request('math.double', 21);
const rtt = await a.ping();
while (got.length === 0) await new Promise((r) => setTimeout(r, 5));
await sub.unsubscribe();
await a.close();
await b.close();
let closedCode;
try { await a.publish('x', 1); } catch (e) { closedCode = e.code; }

const p0 = performance.now();
const e1 = await sb.connect({ url: server, name: 'enc1', sessionId: session + '-e2e', passphrase: 'correct horse' });
const e2eConnectMs = performance.now() - p0;
const e2 = await sb.connect({ url: server, name: 'enc2', sessionId: session + '-e2e', passphrase: 'correct horse' });
const sealed = [];
await e2.subscribe('secret', (m) => sealed.push(m));
await e1.publish('secret', { plan: 'attack at dawn' });
while (sealed.length === 0) await new Promise((r) => setTimeout(r, 5));
let wrongKey;
try {
  await sb.connect({ url: server, name: 'mallory', sessionId: session + '-e2e', passphrase: 'wrong' });
} catch (e) { wrongKey = e.code; }
await e1.close();
await e2.close();
return {
  version: sb.version, loadMs: Math.round(loadMs), seq, received: got[0], reply: reply.payload,
  pingMs: rtt, closedCode, errors,
  e2e: { connectMs: Math.round(e2eConnectMs), message: sealed[0], wrongKey },
};
