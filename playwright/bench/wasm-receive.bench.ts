// How many messages per second the WebAssembly client receives in headless
// Chromium (issue 7: target ≥ 20,000/s). Not a test: it asserts no speed,
// only that the figures are sound (nothing lost, nothing out of order), and
// prints them. Run it with `go tool task bench:browser`.
//
// The receiver page loads switchboard.js, connects the wasm client and
// subscribes one topic with a handler that counts. A second page (same
// browser context, so a BroadcastChannel reaches it) is the publisher: a
// plain WebSocket speaking the protocol, batching publish objects into
// frames as fast as the socket takes them, but never more than WINDOW
// messages ahead of what the receiver reported (every REPORT_EVERY
// messages) — so the figure is what the client can take, not how much the
// server queued before closing a slow consumer (4001) or the client's
// dispatch queue (4096) dropped.
import { test, expect } from '@playwright/test';
import fs from 'node:fs';
import { WS_URL, uniqueSession } from '../helpers';

const N = Number(process.env.SB_BENCH_MESSAGES || 200_000);
const MAX_MS = Number(process.env.SB_BENCH_MAX_MS || 20_000);
const WINDOW = Number(process.env.SB_BENCH_WINDOW || 3000); // in flight at most: below the client's dispatch queue of 4096
const REPORT_EVERY = 250;
const BATCH = 50; // publish objects per frame
const TOPIC = 'bench.rx';
// SB_BENCH_CLIENT=raw: the same count with a plain WebSocket and JSON.parse
// in the page instead of the wasm client, as the browser's floor.
const CLIENT = process.env.SB_BENCH_CLIENT === 'raw' ? 'raw' : 'wasm';
// SB_BENCH_PROFILE=1: a CPU profile of the receiver page (DevTools format,
// in the test's output directory) and its top self-time functions.
const PROFILE = !!process.env.SB_BENCH_PROFILE;

test('wasm client receive rate', async ({ browser }, testInfo) => {
  const session = uniqueSession('bench-rx');
  const context = await browser.newContext();
  const receiver = await context.newPage();
  const publisher = await context.newPage();
  const errors: string[] = [];
  receiver.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  receiver.on('pageerror', (e) => errors.push(String(e)));

  // Any page of the server's origin will do; /healthz runs nothing else.
  await receiver.goto('/healthz');
  await publisher.goto('/healthz');

  await receiver.evaluate(async ({ url, session, topic, reportEvery, mode }) => {
    const w = window as any;
    const st = (w.__bench = {
      n: 0, lastSeq: 0, gaps: 0, dups: 0, marks: [] as [number, number][],
      lat: [] as number[], errors: [] as string[], first: 0, last: 0,
    });
    const bc = new BroadcastChannel('bench');
    const handler = (m: any) => {
      const now = performance.now();
      const n = ++st.n;
      if (n === 1) st.first = now;
      st.last = now;
      const s = m.seq;
      if (s !== st.lastSeq + 1) {
        if (s <= st.lastSeq) st.dups++;
        else st.gaps += s - st.lastSeq - 1;
      }
      st.lastSeq = s;
      if (n % 1000 === 0) st.marks.push([n, now]);
      if (n % 100 === 0) st.lat.push(performance.timeOrigin + now - m.payload.t);
      if (n % reportEvery === 0) bc.postMessage(n);
    };
    if (mode === 'raw') {
      const ws = new WebSocket(url, 'switchboard.v1');
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', name: 'receiver', session_id: session, protocol: 1 }));
        ws.onerror = () => reject(new Error('websocket error'));
        ws.onmessage = (e) => {
          for (const line of String(e.data).split('\n')) {
            const o = JSON.parse(line);
            if (o.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', id: 's', topic }));
            else if (o.type === 'ack') resolve();
            else if (o.type === 'message') handler(o);
            else if (o.type === 'error') st.errors.push(`${o.code}: ${o.message}`);
          }
        };
      });
      w.__client = { close: () => ws.close() };
      return;
    }
    const { load } = await import('/switchboard.js');
    const sb = await load();
    const c = await sb.connect({
      url, name: 'receiver', sessionId: session, reconnect: false,
      onError: (e: any) => st.errors.push(`${e.code}: ${e.message}`),
    });
    await c.subscribe(topic, handler);
    w.__client = c;
  }, { url: WS_URL, session, topic: TOPIC, reportEvery: REPORT_EVERY, mode: CLIENT });

  const cdp = PROFILE ? await context.newCDPSession(receiver) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
    await cdp.send('Profiler.start');
  }

  // The publisher runs until it has sent N or MAX_MS passed, then resolves
  // with what it sent.
  const pubDone = publisher.evaluate(({ url, session, topic, n, maxMs, window: win, batch }) =>
    new Promise<{ sent: number; ms: number; error?: string }>((resolve) => {
      const ws = new WebSocket(url, 'switchboard.v1');
      const bc = new BroadcastChannel('bench');
      let acked = 0, sent = 0, start = 0, done = false;
      const pad = 'x'.repeat(24);
      const finish = (error?: string) => {
        if (done) return;
        done = true;
        clearInterval(timer);
        resolve({ sent, ms: performance.now() - start, error });
      };
      const pump = () => {
        if (done || start === 0) return;
        if (performance.now() - start > maxMs) return finish();
        while (sent < n && sent - acked < win && ws.bufferedAmount < 1 << 20) {
          const k = Math.min(batch, n - sent);
          const t = performance.timeOrigin + performance.now();
          let frame = '';
          for (let j = 0; j < k; j++) {
            frame += (j ? '\n' : '') +
              `{"type":"publish","topic":"${topic}","payload":{"i":${sent + j},"t":${t},"p":"${pad}"}}`;
          }
          ws.send(frame);
          sent += k;
        }
        if (sent >= n) finish();
      };
      const timer = setInterval(pump, 2);
      bc.onmessage = (e) => { acked = e.data; pump(); };
      ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', name: 'publisher', session_id: session, protocol: 1 }));
      ws.onmessage = (e) => {
        for (const line of String(e.data).split('\n')) {
          const o = JSON.parse(line);
          if (o.type === 'welcome') { start = performance.now(); pump(); }
          else if (o.type === 'error') finish(`${o.code}: ${o.message}`);
        }
      };
      ws.onclose = (e) => finish(`closed ${e.code}`);
    }), { url: WS_URL, session, topic: TOPIC, n: N, maxMs: MAX_MS, window: WINDOW, batch: BATCH });

  const pub = await pubDone;
  // Wait until the receiver has everything the publisher sent (or stalls 5 s).
  await receiver.waitForFunction((sent) => {
    const st = (window as any).__bench;
    if (st.n >= sent) return true;
    const w = window as any;
    if (w.__lastN !== st.n) { w.__lastN = st.n; w.__lastChange = performance.now(); }
    return performance.now() - w.__lastChange > 5000;
  }, pub.sent, { timeout: 60_000, polling: 200 });

  if (cdp) {
    const { profile } = await cdp.send('Profiler.stop');
    const file = testInfo.outputPath(`receiver-${CLIENT}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    // Self time per function, from the samples.
    const byId = new Map(profile.nodes.map((nd: any) => [nd.id, nd]));
    const dt = new Map<number, number>();
    profile.samples!.forEach((id: number, i: number) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas![i] ?? 0)));
    const self = new Map<string, number>();
    let total = 0;
    for (const [id, us] of dt) {
      const f = (byId.get(id) as any).callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}`;
      self.set(key, (self.get(key) ?? 0) + us);
      total += us;
    }
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 15);
    console.log(`receiver CPU profile (${file}), self time of ${(total / 1e6).toFixed(1)} s:`);
    for (const [k, us] of top) console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
  }

  const r = await receiver.evaluate(() => {
    const st = (window as any).__bench;
    const lat = st.lat.slice().sort((a: number, b: number) => a - b);
    const q = (p: number) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN;
    return { n: st.n, gaps: st.gaps, dups: st.dups, marks: st.marks, first: st.first, last: st.last,
      errors: st.errors, p50: q(0.5), p99: q(0.99) };
  });
  await receiver.evaluate(() => (window as any).__client.close());
  await context.close();

  // Steady window: from the 10 % mark to the 90 % mark of what arrived.
  const at = (frac: number) => r.marks.find(([k]: [number, number]) => k >= frac * r.n) as [number, number];
  const [n10, t10] = at(0.1);
  const [n90, t90] = at(0.9) ?? r.marks[r.marks.length - 1];
  const steady = ((n90 - n10) / (t90 - t10)) * 1000;
  const overall = (r.n / (r.last - r.first)) * 1000;
  const lost = pub.sent - r.n;
  const summary = {
    sent: pub.sent, received: r.n, lost, gaps: r.gaps, outOfOrder: r.dups,
    steadyMsgPerSec: Math.round(steady), overallMsgPerSec: Math.round(overall),
    receiveSeconds: +((r.last - r.first) / 1000).toFixed(2),
    latencyMsP50: +r.p50.toFixed(1), latencyMsP99: +r.p99.toFixed(1),
    publisherError: pub.error ?? null, clientErrors: r.errors.slice(0, 5), pageErrors: errors.slice(0, 5),
  };
  console.log(
    `${CLIENT}-receive: ${r.n}/${pub.sent} received in ${summary.receiveSeconds} s — ` +
    `steady ${summary.steadyMsgPerSec} msg/s (10–90 %), overall ${summary.overallMsgPerSec} msg/s; ` +
    `publish→handler p50 ${summary.latencyMsP50} ms, p99 ${summary.latencyMsP99} ms (window ${WINDOW}); ` +
    `lost ${lost}, seq gaps ${r.gaps}, out of order ${r.dups}`,
  );
  console.log(`${CLIENT}-receive-json: ${JSON.stringify({ client: CLIENT, ...summary })}`);
  await testInfo.attach('wasm-receive.json', { body: JSON.stringify(summary, null, 2), contentType: 'application/json' });

  // Soundness only, never speed.
  expect(pub.error, 'publisher').toBeUndefined();
  expect(r.errors, 'client errors').toEqual([]);
  expect(lost, 'messages lost').toBe(0);
  expect(r.gaps + r.dups, 'seq gaps or reordering').toBe(0);
});
