// The WebAssembly client in real Chromium, through the dashboard's
// playground (what a person clicks) and through the loader's API: pages
// talk to each other and to native Go clients, encrypted end to end, and
// sessions stay apart.
import { test, expect, Page, Locator } from '@playwright/test';
import { NativeClient, ADMIN_TOKEN, WS_URL, uniqueSession } from './helpers';

let natives: NativeClient[] = [];
test.afterEach(() => {
  for (const c of natives) c.stop();
  natives = [];
});

/** Opens the dashboard and joins a session in its playground. */
async function joinPlayground(page: Page, name: string, session: string, passphrase = ''): Promise<Locator> {
  await page.goto(`/?token=${ADMIN_TOKEN}`);
  const pg = page.getByTestId('playground');
  await pg.getByTestId('pg-name').fill(name);
  await pg.getByTestId('pg-session').fill(session);
  await pg.getByTestId('pg-passphrase').fill(passphrase);
  await pg.getByTestId('pg-connect').click();
  return pg;
}

async function expectConnected(pg: Locator) {
  await expect(pg.getByTestId('pg-state')).toHaveAttribute('data-state', 'connected');
}

async function subscribe(pg: Locator, pattern: string) {
  await pg.getByTestId('pg-subscribe-pattern').fill(pattern);
  await pg.getByTestId('pg-subscribe').click();
  await expect(pg.locator(`[data-testid="pg-subscription"][data-pattern="${pattern}"]`)).toBeVisible();
}

async function publish(pg: Locator, topic: string, payload: unknown) {
  await pg.getByTestId('pg-publish-topic').fill(topic);
  await pg.getByTestId('pg-publish-payload').fill(JSON.stringify(payload));
  await pg.getByTestId('pg-publish').click();
  await expect(pg.getByTestId('pg-publish-result')).toContainText(/seq/i);
}

function received(pg: Locator) {
  return pg.getByTestId('pg-message');
}

test('two pages in one session exchange messages; a page in another session receives nothing', async ({ browser }) => {
  const s = uniqueSession('pg');
  const other = uniqueSession('pg-other');
  const [p1, p2, p3] = await Promise.all([browser.newPage(), browser.newPage(), browser.newPage()]);
  const a = await joinPlayground(p1, 'ann', s);
  const b = await joinPlayground(p2, 'ben', s);
  const c = await joinPlayground(p3, 'cid', other);
  for (const pg of [a, b, c]) {
    await expectConnected(pg);
    await subscribe(pg, 'chat.>');
  }

  await publish(a, 'chat.room1', { text: 'hello from ann' });
  await expect(received(b).filter({ hasText: 'hello from ann' })).toHaveCount(1);
  await publish(b, 'chat.room1', { text: 'hi ann, ben here' });
  await expect(received(a).filter({ hasText: 'hi ann, ben here' })).toHaveCount(1);

  // cid's own message arrives; had ann's or ben's leaked across sessions,
  // the server would have queued them to cid before it.
  await publish(c, 'chat.room1', { text: 'cid alone' });
  await expect(received(c).filter({ hasText: 'cid alone' })).toHaveCount(1);
  await expect(received(c)).toHaveCount(1);
  await Promise.all([p1.close(), p2.close(), p3.close()]);
});

test('a page and a native Go client chat end-to-end encrypted; the dashboard shows only ciphertext', async ({ page }, testInfo) => {
  const s = uniqueSession('e2e');
  const passphrase = 'correct horse battery staple';
  const goSub = await NativeClient.sub('gopher', s, 'chat.>', ['--passphrase', passphrase]);
  natives.push(goSub);

  const pg = await joinPlayground(page, 'browser', s, passphrase);
  await expectConnected(pg);
  await subscribe(pg, 'chat.>');

  // Browser → Go.
  await publish(pg, 'chat.room1', { text: 'sealed in the browser' });
  await expect.poll(() => goSub.stdout).toContain('chat.room1 from browser seq=1 (end-to-end encrypted): {"text":"sealed in the browser"}');

  // Go → browser.
  const pub = await NativeClient.run(['pub', '--url', WS_URL, '--name', 'gopher-pub', '--session', s, '--passphrase', passphrase, 'chat.room1', '{"text":"sealed in Go"}']);
  expect(pub.code, pub.stderr).toBe(0);
  const fromGo = received(pg).filter({ hasText: 'sealed in Go' });
  await expect(fromGo).toHaveCount(1);
  await expect(fromGo).toHaveAttribute('data-encrypted', 'true');
  await expect(fromGo.getByTestId('pg-encrypted-badge')).toBeVisible();

  // The dashboard (same page, operator's view) lists these messages with
  // ciphertext previews only.
  const rows = page.locator(`[data-testid="log-row"][data-session-id="${s}"]`);
  await expect(rows.filter({ has: page.locator('[data-testid="log-topic"]', { hasText: 'chat.room1' }) })).toHaveCount(2);
  for (const row of await rows.all()) {
    if ((await row.getAttribute('data-topic'))?.startsWith('$meta')) continue;
    await expect(row).toHaveAttribute('data-encrypted', 'true');
  }
  const log = await page.getByTestId('log-rows').innerText();
  expect(log).not.toContain('sealed in');
  expect(log).toContain('e2e:');
  await page.screenshot({ path: testInfo.outputPath('dashboard-encrypted-playground.png'), fullPage: true });
});

test('a wrong passphrase in the browser shows a clear error', async ({ page }) => {
  const s = uniqueSession('wrong');
  natives.push(await NativeClient.sub('keeper', s, 'x.>', ['--passphrase', 'the right one']));
  const pg = await joinPlayground(page, 'intruder', s, 'a wrong one');
  const error = pg.getByTestId('pg-error');
  await expect(error).toBeVisible();
  await expect(error).toHaveAttribute('data-code', 'wrong_key');
  await expect(error).toContainText(/passphrase/i);
  await expect(pg.getByTestId('pg-state')).not.toHaveAttribute('data-state', 'connected');
});

test('request/reply between a page and Go, both ways', async ({ page }) => {
  const s = uniqueSession('rr');
  natives.push(await NativeClient.sub('responder', s, 'svc.>', ['--reply', '{"answer":42}']));
  await page.goto('/');
  const result = await page.evaluate(async ({ url, session }) => {
    const { load } = await import('/switchboard.js');
    const sb = await load();
    const c = await sb.connect({ url, name: 'asker', sessionId: session });
    const resp = await c.request('svc.question', { q: 'life' }, { timeoutMs: 5000 });
    // And the other way: the page answers requests from Go.
    await c.onRequest('page.echo', (msg) => ({ echoed: msg.payload, by: 'the page' }));
    (window as any).__client = c;
    return { payload: resp.payload, from: resp.publisherName };
  }, { url: WS_URL, session: s });
  expect(result).toEqual({ payload: { answer: 42 }, from: 'responder' });

  const req = await NativeClient.run(['request', '--url', WS_URL, '--name', 'go-asker', '--session', s, 'page.echo', '"ping"']);
  expect(req.code, req.stderr).toBe(0);
  expect(JSON.parse(req.stdout)).toEqual({ echoed: 'ping', by: 'the page' });

  // No responder in another session.
  const err = await page.evaluate(async ({ url }) => {
    const { load } = await import('/switchboard.js');
    const c = await (await load()).connect({ url, name: 'lonely', sessionId: 'nobody-here' });
    try {
      await c.request('svc.question', {}, { timeoutMs: 2000 });
      return 'answered';
    } catch (e: any) {
      return e.code;
    } finally {
      await c.close();
    }
  }, { url: WS_URL });
  expect(err).toBe('no_responders');
});

test('an operator disconnect is survived: the page reconnects by itself and keeps receiving', async ({ page }) => {
  const s = uniqueSession('kick');
  const pg = await joinPlayground(page, 'resilient', s);
  await expectConnected(pg);
  await subscribe(pg, 'news.>');
  const firstId = (await pg.getByTestId('pg-client-id').innerText()).trim();
  expect(firstId).not.toBe('');

  const row = page.locator(`[data-testid="session-group"][data-session-id="${s}"] [data-testid="client-row"]`);
  await expect(row).toHaveCount(1);
  await row.getByTestId('client-disconnect-button').click();
  await page.getByTestId('confirm-ok').click();

  // It comes back under a new client id, resubscribed.
  await expect.poll(async () => (await pg.getByTestId('pg-client-id').innerText()).trim()).not.toBe(firstId);
  await expectConnected(pg);
  const pub = await NativeClient.run(['pub', '--url', WS_URL, '--name', 'newsroom', '--session', s, 'news.today', '"after the kick"']);
  expect(pub.code, pub.stderr).toBe(0);
  await expect(received(pg).filter({ hasText: 'after the kick' })).toHaveCount(1);
});
