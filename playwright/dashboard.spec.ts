// The dashboard, driven as an operator would: it lists clients and sessions
// live, and its publish, broadcast, send and disconnect actions reach exactly
// the clients they name.
import { test, expect, Page } from '@playwright/test';
import { NativeClient, ADMIN_TOKEN, uniqueSession } from './helpers';

let clients: NativeClient[] = [];

test.afterEach(() => {
  for (const c of clients) c.stop();
  clients = [];
});

async function openDashboard(page: Page) {
  await page.goto(`/?token=${ADMIN_TOKEN}`);
  await expect(page.getByTestId('connection-status')).not.toHaveAttribute('data-state', 'signed-out');
  // The token moves to sessionStorage and leaves the address bar.
  await expect.poll(() => new URL(page.url()).searchParams.get('token')).toBeNull();
}

function sessionGroup(page: Page, session: string) {
  return page.locator(`[data-testid="session-group"][data-session-id="${session}"]`);
}

test('asks for the admin token and refuses a wrong one', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('auth-form')).toBeVisible();
  await page.getByTestId('auth-token-input').fill('not-the-token');
  await page.getByTestId('auth-submit').click();
  await expect(page.getByTestId('auth-message')).toContainText(/token/i);
  await page.getByTestId('auth-token-input').fill(ADMIN_TOKEN);
  await page.getByTestId('auth-submit').click();
  await expect(page.getByTestId('auth-form')).toBeHidden();
});

test('lists clients grouped by session, live', async ({ page }, testInfo) => {
  const a = uniqueSession('dash-a');
  const b = uniqueSession('dash-b');
  await openDashboard(page);
  clients.push(await NativeClient.sub('alice', a, 'chat.>'));
  clients.push(await NativeClient.sub('bob', a, 'orders.*'));
  const carol = await NativeClient.sub('carol', b, '>');
  clients.push(carol);

  const groupA = sessionGroup(page, a);
  await expect(groupA.getByTestId('client-row')).toHaveCount(2);
  await expect(groupA).toContainText('alice');
  await expect(groupA).toContainText('bob');
  await expect(groupA).toContainText('chat.>');
  await expect(sessionGroup(page, b).getByTestId('client-row')).toHaveCount(1);
  await expect(sessionGroup(page, b)).toContainText('carol');
  await page.screenshot({ path: testInfo.outputPath('dashboard-clients.png'), fullPage: true });

  // carol leaves: her session disappears without a reload.
  carol.stop();
  await expect(sessionGroup(page, b)).toHaveCount(0);
  await expect(groupA.getByTestId('client-row')).toHaveCount(2);
});

test('publish into a session reaches only that session; broadcast reaches everyone', async ({ page }) => {
  const a = uniqueSession('pub-a');
  const b = uniqueSession('pub-b');
  await openDashboard(page);
  const alice = await NativeClient.sub('alice', a, 'news.>');
  const carol = await NativeClient.sub('carol', b, 'news.>');
  clients.push(alice, carol);
  await expect(sessionGroup(page, a)).toBeVisible();

  await page.getByTestId('publish-target-session').check();
  await page.getByTestId('publish-session').fill(a);
  await page.getByTestId('publish-topic').fill('news.today');
  await page.getByTestId('publish-payload').fill('{"headline":"only for A"}');
  await page.getByTestId('publish-submit').click();
  await expect(page.getByTestId('publish-result')).toContainText(/delivered\D*1/i);
  await expect.poll(() => alice.stdout).toContain('news.today from $server seq=1: {"headline":"only for A"}');

  await page.getByTestId('publish-target-broadcast').check();
  await page.getByTestId('publish-topic').fill('news.all');
  await page.getByTestId('publish-payload').fill('"to everyone"');
  await page.getByTestId('publish-submit').click();
  await expect.poll(() => carol.stdout).toContain('news.all from $server: to everyone');
  await expect.poll(() => alice.stdout).toContain('news.all from $server: to everyone');
  // The broadcast reached carol after the session publish was delivered, so
  // had the session publish leaked into her session she would have it by now.
  expect(carol.stdout).not.toContain('only for A');
});

test('send reaches one client; disconnect closes it', async ({ page }, testInfo) => {
  const s = uniqueSession('send');
  await openDashboard(page);
  const alice = await NativeClient.sub('alice', s, 'never.used');
  const bob = await NativeClient.sub('bob', s, 'never.used');
  clients.push(alice, bob);
  const group = sessionGroup(page, s);
  await expect(group.getByTestId('client-row')).toHaveCount(2);

  const bobRow = group.getByTestId('client-row').filter({ hasText: 'bob' });
  await bobRow.getByTestId('client-send-button').click();
  await expect(page.getByTestId('send-dialog')).toBeVisible();
  await page.getByTestId('send-topic').fill('direct.hello');
  await page.getByTestId('send-payload').fill('"just bob"');
  await page.getByTestId('send-submit').click();
  await expect.poll(() => bob.stdout).toContain('direct.hello from $server: just bob');
  await page.keyboard.press('Escape');

  const aliceRow = group.getByTestId('client-row').filter({ hasText: 'alice' });
  await aliceRow.getByTestId('client-disconnect-button').click();
  await expect(page.getByTestId('confirm-dialog')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('dashboard-confirm-disconnect.png') });
  await page.getByTestId('confirm-ok').click();
  // The CLI does not reconnect: it exits, and the dashboard drops the row.
  await expect.poll(() => alice.proc.exitCode).not.toBeNull();
  await expect(group.getByTestId('client-row')).toHaveCount(1);
  expect(alice.stdout).not.toContain('just bob');
});

test('works on a narrow screen', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openDashboard(page);
  const s = uniqueSession('narrow');
  clients.push(await NativeClient.sub('mobile', s, 'x.>'));
  await expect(sessionGroup(page, s)).toContainText('mobile');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: testInfo.outputPath('dashboard-narrow.png'), fullPage: true });
});
