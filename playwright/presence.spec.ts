// Presence and history in the browser: the dashboard lists who subscribes
// to a topic and its latest messages (ciphertext stays ciphertext), and the
// WebAssembly client hears native Go clients join and leave.
import { test, expect, Page, Locator } from '@playwright/test';
import { NativeClient, ADMIN_TOKEN, WS_URL, uniqueSession } from './helpers';

let natives: NativeClient[] = [];
test.afterEach(() => {
  for (const c of natives) c.stop();
  natives = [];
});

async function sub(name: string, session: string, topic: string, extra: string[] = []): Promise<NativeClient> {
  const c = await NativeClient.sub(name, session, topic, extra);
  natives.push(c);
  return c;
}

async function pub(session: string, topic: string, payload: string, extra: string[] = []) {
  const r = await NativeClient.run(['pub', '--url', WS_URL, '--name', 'publisher', '--session', session, ...extra, topic, payload]);
  expect(r.code, r.stderr).toBe(0);
}

async function openDashboard(page: Page) {
  await page.goto(`/?token=${ADMIN_TOKEN}`);
  await expect(page.getByTestId('connection-status')).not.toHaveAttribute('data-state', 'signed-out');
}

/** The Topics panel's row of a topic (or pattern) in a session. */
function topicRow(page: Page, session: string, topic: string): Locator {
  return page.locator(`[data-testid="topic-row"][data-session-id="${session}"][data-topic="${topic}"]`);
}

/** Opens a topic's details from the Topics panel and returns the region. */
async function openTopic(page: Page, session: string, topic: string): Promise<Locator> {
  const open = topicRow(page, session, topic).getByTestId('topic-open');
  await open.click();
  await expect(open).toHaveAttribute('aria-expanded', 'true');
  const detail = page.getByRole('region', { name: new RegExp(`${topic.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*in session`) });
  await expect(detail).toBeVisible();
  await expect(detail.getByTestId('topic-detail-session')).toHaveText(session);
  return detail;
}

test('the dashboard lists who subscribes to a topic, and updates when one leaves', async ({ page }, testInfo) => {
  const s = uniqueSession('who');
  const other = uniqueSession('who-other');
  await openDashboard(page);
  const alice = await sub('alice', s, 'room.lobby');
  const bob = await sub('bob', s, 'room.lobby');
  await sub('carol', s, 'room.>'); // through a wildcard: not a member of room.lobby
  await sub('mallory', other, 'room.lobby'); // another session

  await expect(topicRow(page, s, 'room.lobby').getByTestId('topic-subscribers')).toHaveText('2');
  // A pattern has no presence or history to show.
  await expect(topicRow(page, s, 'room.>')).toBeVisible();
  await expect(topicRow(page, s, 'room.>').getByTestId('topic-open')).toHaveCount(0);

  const detail = await openTopic(page, s, 'room.lobby');
  const members = detail.getByTestId('presence-member');
  await expect(members).toHaveCount(2);
  await expect(members.getByTestId('presence-name')).toHaveText(['alice', 'bob']);
  for (const m of await members.all()) {
    await expect(m.getByTestId('presence-client-id')).toHaveText(/^\S+$/);
  }
  await expect(detail.getByTestId('presence-summary')).toHaveText(/2 clients/);
  await expect(detail).not.toContainText('mallory');
  await expect(detail).not.toContainText('carol');
  await page.screenshot({ path: testInfo.outputPath('dashboard-presence.png'), fullPage: true });

  // bob leaves: the list follows without a click.
  bob.stop();
  await expect(members).toHaveCount(1);
  await expect(members.getByTestId('presence-name')).toHaveText(['alice']);
  alice.stop();
  await expect(members).toHaveCount(0);
  await expect(detail.getByTestId('presence-summary')).toContainText(/nobody/i);

  // Escape closes the details and gives focus back to the topic.
  await detail.getByTestId('topic-detail-refresh').focus();
  await page.keyboard.press('Escape');
  await expect(detail).toBeHidden();
  await expect(topicRow(page, s, 'room.lobby').getByTestId('topic-open')).toBeFocused();
});

test('the dashboard shows a topic\'s latest messages with seq; encrypted ones stay ciphertext', async ({ page }) => {
  const s = uniqueSession('hist');
  await sub('reader', s, 'news.today');
  await pub(s, 'news.today', '{"headline":"first"}');
  await pub(s, 'news.today', '"second"');
  await pub(s, 'news.today', '{"headline":"third"}');

  await openDashboard(page);
  const detail = await openTopic(page, s, 'news.today');
  const items = detail.getByTestId('history-item');
  await expect(items).toHaveCount(3);
  // Newest first, each with its seq, time and publisher.
  await expect(items.getByTestId('history-seq')).toHaveText(['seq 3', 'seq 2', 'seq 1']);
  await expect(items.getByTestId('history-payload')).toHaveText(['{"headline":"third"}', '"second"', '{"headline":"first"}']);
  await expect(items.first().getByTestId('history-publisher')).toHaveText('from publisher');
  await expect(items.first().getByTestId('history-time')).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT/);
  await expect(detail.getByTestId('topic-detail-stream')).toContainText('Latest seq 3');

  // A new message appears with the next refresh.
  await pub(s, 'news.today', '"fourth"');
  await expect(items).toHaveCount(4);
  await expect(items.first()).toHaveAttribute('data-seq', '4');

  // An end-to-end encrypted session: the history holds ciphertext, shown
  // as such, never opened.
  const sealed = uniqueSession('hist-e2e');
  const passphrase = 'correct horse battery staple';
  await sub('keeper', sealed, 'vault.notes', ['--passphrase', passphrase]);
  await pub(sealed, 'vault.notes', '{"secret":"the plans"}', ['--passphrase', passphrase]);
  const vault = await openTopic(page, sealed, 'vault.notes');
  const item = vault.getByTestId('history-item');
  await expect(item).toHaveCount(1);
  await expect(item).toHaveAttribute('data-encrypted', 'true');
  await expect(item.getByTestId('history-encrypted')).toContainText('end-to-end encrypted');
  await expect(item.getByTestId('history-payload')).toHaveText(/^"e2e:/);
  await expect(vault).not.toContainText('the plans');
  // Only one topic's details at a time.
  await expect(page.getByTestId('topic-detail')).toHaveCount(1);
  await expect(topicRow(page, s, 'news.today').getByTestId('topic-open')).toHaveAttribute('aria-expanded', 'false');
});

test('the topic details work on a narrow screen', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 375, height: 740 });
  const s = uniqueSession('narrow');
  await sub('a-client-with-a-rather-long-name', s, 'orders.eu.created');
  await pub(s, 'orders.eu.created', JSON.stringify({ order: 'x'.repeat(400) }));
  await openDashboard(page);
  const detail = await openTopic(page, s, 'orders.eu.created');
  await expect(detail.getByTestId('presence-member')).toHaveCount(1);
  await expect(detail.getByTestId('history-item')).toHaveCount(1);
  // Nothing wider than the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  const box = await detail.boundingBox();
  expect(box!.x).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width).toBeLessThanOrEqual(375);
  await detail.screenshot({ path: testInfo.outputPath('topic-detail-narrow.png') });
});

test('the playground hears a native client join and leave its topic, and lists who is there', async ({ page }, testInfo) => {
  const s = uniqueSession('pg-who');
  await page.goto(`/?token=${ADMIN_TOKEN}`);
  const pg = page.getByTestId('playground');
  await pg.getByTestId('pg-name').fill('webby');
  await pg.getByTestId('pg-session').fill(s);
  await pg.getByTestId('pg-connect').click();
  await expect(pg.getByTestId('pg-state')).toHaveAttribute('data-state', 'connected');
  await pg.getByTestId('pg-subscribe-pattern').fill('room.lobby');
  await pg.getByTestId('pg-subscribe').click();
  const chip = pg.locator('[data-testid="pg-subscription"][data-pattern="room.lobby"]');
  await expect(chip).toBeVisible();

  const gopher = await sub('gopher', s, 'room.lobby');
  const joined = pg.locator('[data-testid="pg-presence-event"][data-event="join"]');
  await expect(joined).toHaveCount(1);
  await expect(joined).toHaveAttribute('data-name', 'gopher');
  await expect(joined).toHaveAttribute('data-topic', 'room.lobby');
  await expect(joined).toContainText('gopher');

  await chip.getByTestId('pg-presence').click();
  const members = pg.getByTestId('pg-members');
  await expect(members).toHaveAttribute('data-count', '2');
  await expect(members).toContainText('gopher');
  await expect(members).toContainText('webby');

  gopher.stop(); // the process exits: its connection closes
  await gopher.exited;
  const left = pg.locator('[data-testid="pg-presence-event"][data-event="leave"]');
  await expect(left).toHaveCount(1);
  await expect(left).toHaveAttribute('data-name', 'gopher');
  await expect(left).toHaveAttribute('data-client-id', (await joined.getAttribute('data-client-id'))!);
  await pg.screenshot({ path: testInfo.outputPath('playground-presence.png') });
});

test('the loader API: presence(), presence events, position and resuming with since', async ({ page }) => {
  const s = uniqueSession('api-who');
  await page.goto('/');
  await page.evaluate(async ({ url, session }) => {
    const { load } = await import('/switchboard.js');
    const sb = await load();
    const c = await sb.connect({ url, name: 'page', sessionId: session });
    const w = window as any;
    w.__events = [];
    w.__msgs = [];
    w.__client = c;
    w.__sub = await c.subscribe('room.lobby', (m: any) => w.__msgs.push(m.payload), {
      presence: (ev: any) => w.__events.push(ev),
    });
  }, { url: WS_URL, session: s });
  const events = () => page.evaluate(() => (window as any).__events.map((e: any) => `${e.event}:${e.name}:${e.topic}`));

  const gopher = await sub('gopher', s, 'room.lobby');
  await expect.poll(events).toEqual(['join:gopher:room.lobby']);
  const members = await page.evaluate(() => (window as any).__client.presence('room.lobby'));
  expect(members.map((m: any) => m.name)).toEqual(['gopher', 'page']);
  expect(members.every((m: any) => typeof m.clientId === 'string' && m.clientId.length > 0)).toBe(true);

  await pub(s, 'room.lobby', '"one"');
  await pub(s, 'room.lobby', '"two"');
  await expect.poll(() => page.evaluate(() => (window as any).__sub.position.seq)).toBe(2);
  gopher.stop();
  await expect.poll(events).toEqual(['join:gopher:room.lobby', 'leave:gopher:room.lobby']);

  // A saved position resumes after a reload: the messages published in
  // between are replayed.
  const saved = await page.evaluate(async () => {
    const w = window as any;
    const p = w.__sub.position;
    await w.__client.close();
    return p;
  });
  expect(saved.epoch).not.toBe('');
  await pub(s, 'room.lobby', '"three"');
  await page.reload();
  const replayed = await page.evaluate(async ({ url, session, since }) => {
    const { load } = await import('/switchboard.js');
    const c = await (await load()).connect({ url, name: 'page', sessionId: session });
    const got: unknown[] = [];
    const gaps: unknown[] = [];
    await c.subscribe('room.lobby', (m: any) => got.push([m.seq, m.payload]), { since, onGap: (g: any) => gaps.push(g) });
    for (let i = 0; i < 100 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
    await c.close();
    return { got, gaps };
  }, { url: WS_URL, session: s, since: saved });
  expect(replayed).toEqual({ got: [[3, 'three']], gaps: [] });
});
