// Uses frontend/embed-example.html as a person would: fill in the form,
// connect, send a message, and wait for it in the list. Returns what the
// page shows, and how long load() + connect took.
const $ = (id) => document.getElementById(id);
const until = async (what, cond, ms = 20000) => {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}; status: ${$('status').textContent}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
$('name').value = 'chromium-check';
$('session').value = 'browser-check-' + Date.now();
const t0 = performance.now();
$('connect-button').click();
await until('connected', () => /^Connected as/.test($('status').textContent));
const connectMs = performance.now() - t0;
$('text').value = 'hello from headless Chromium';
$('send').click();
await until('the message in the list', () => $('messages').children.length > 0);
return {
  connectMs: Math.round(connectMs),
  status: $('status').textContent,
  firstMessage: $('messages').children[0].textContent,
  wasm: performance.getEntriesByType('resource').filter((e) => e.name.includes('switchboard.wasm'))
    .map((e) => ({ url: e.name, transferred: e.transferSize, decoded: e.decodedBodySize, ms: Math.round(e.duration) })),
};
