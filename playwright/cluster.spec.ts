// The dashboard's cluster view. Against the two-node cluster that
// playwright.config.ts starts (embedded NATS, routes between the nodes),
// node A's dashboard lists both nodes and every client of the cluster with
// the node it is connected to, and its send reaches a client on node B.
// Against the single server it says it is a single node.
import { test, expect, Page } from '@playwright/test';
import {
  NativeClient, ADMIN_TOKEN, CLUSTER_A_HTTP, CLUSTER_B_HTTP, CLUSTER_A_WS, CLUSTER_B_WS,
  adminAt, waitHealthy, uniqueSession,
} from './helpers';
import { SERVER_PORT, CLUSTER_A_PORT, CLUSTER_B_PORT } from '../playwright.config';

let clients: NativeClient[] = [];

test.afterEach(() => {
  for (const c of clients) c.stop();
  clients = [];
});

async function openDashboard(page: Page, base = '') {
  await page.goto(`${base}/?token=${ADMIN_TOKEN}`);
  await expect(page.getByTestId('connection-status')).not.toHaveAttribute('data-state', 'signed-out');
}

function nodeRow(page: Page, id: string) {
  return page.locator(`[data-testid="node-row"][data-node-id="${id}"]`);
}

function sessionGroup(page: Page, session: string) {
  return page.locator(`[data-testid="session-group"][data-session-id="${session}"]`);
}

test.describe('a two-node cluster', () => {
  let idA = '';
  let idB = '';

  test.beforeAll(async () => {
    // Playwright waited for node B; node A comes up with it (see the config).
    await waitHealthy(CLUSTER_A_HTTP, 45_000);
    await waitHealthy(CLUSTER_B_HTTP, 45_000);
    idA = (await adminAt(CLUSTER_A_HTTP, 'GET', '/cluster')).node;
    idB = (await adminAt(CLUSTER_B_HTTP, 'GET', '/cluster')).node;
    expect(idA).toBeTruthy();
    expect(idB).toBeTruthy();
    expect(idA).not.toBe(idB);
  });

  test("node A's dashboard shows both nodes and the node of each client", async ({ page }, testInfo) => {
    await openDashboard(page, CLUSTER_A_HTTP);
    const mode = page.getByTestId('cluster-mode');
    await expect(mode).toHaveText('Cluster');
    await expect(mode).toHaveAttribute('data-mode', 'cluster');
    await expect(page.getByTestId('node-row')).toHaveCount(2);
    await expect(page.getByTestId('cluster-summary')).toContainText('2 nodes');

    const rowA = nodeRow(page, idA);
    const rowB = nodeRow(page, idB);
    await expect(rowA.getByTestId('node-self')).toHaveText('this node');
    await expect(rowA.getByTestId('node-addr')).toHaveText(`127.0.0.1:${CLUSTER_A_PORT}`);
    await expect(rowB.getByTestId('node-id')).toHaveText(idB);
    await expect(rowB.getByTestId('node-addr')).toHaveText(`127.0.0.1:${CLUSTER_B_PORT}`);
    await expect(rowB.getByTestId('node-self')).toHaveCount(0);

    // bob connects to node B, alice to node A, both in one session.
    const s = uniqueSession('cluster');
    const bob = await NativeClient.subAt(CLUSTER_B_WS, 'bob', s, 'chat.>');
    clients.push(bob);
    clients.push(await NativeClient.subAt(CLUSTER_A_WS, 'alice', s, 'chat.>'));

    const group = sessionGroup(page, s);
    await expect(group.getByTestId('client-row')).toHaveCount(2);
    const bobRow = group.getByTestId('client-row').filter({ hasText: 'bob' });
    const aliceRow = group.getByTestId('client-row').filter({ hasText: 'alice' });
    const bobNode = bobRow.getByTestId('client-node');
    await expect(bobNode).toHaveAttribute('data-node-id', idB);
    await expect(bobNode).toContainText(idB.slice(0, 8));
    await expect(bobNode).toHaveAttribute('data-self', 'false');
    await expect(aliceRow.getByTestId('client-node')).toHaveAttribute('data-node-id', idA);
    await expect(aliceRow.getByTestId('client-node')).toHaveAttribute('data-self', 'true');
    await expect(aliceRow.getByTestId('client-node')).toHaveText('this node');
    // The nodes' counts follow (each node announces itself every second).
    await expect(rowB.getByTestId('node-clients')).toHaveText('1');
    await expect(rowA.getByTestId('node-clients')).toHaveText('1');
    await page.screenshot({ path: testInfo.outputPath('dashboard-cluster.png'), fullPage: true });
    // On a narrow screen the nodes table becomes cards, and nothing overflows.
    await page.setViewportSize({ width: 390, height: 844 });
    await expect(rowB.getByTestId('node-id')).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.getByTestId('cluster-panel').screenshot({ path: testInfo.outputPath('dashboard-cluster-narrow.png') });
    await page.setViewportSize({ width: 1280, height: 800 });

    // Send from node A's dashboard reaches bob on node B.
    await bobRow.getByTestId('client-send-button').click();
    await expect(page.getByTestId('send-target')).toContainText(`on node ${idB.slice(0, 8)}`);
    await page.getByTestId('send-topic').fill('direct.hello');
    await page.getByTestId('send-payload').fill('"across the cluster"');
    await page.getByTestId('send-submit').click();
    await expect.poll(() => bob.stdout).toContain('direct.hello from $server: across the cluster');

    // bob leaves node B: his row and node B's count follow, without a reload.
    bob.stop();
    await expect(group.getByTestId('client-row')).toHaveCount(1);
    await expect(rowB.getByTestId('node-clients')).toHaveText('0');
  });
});

test('the single server says it is a single node, and shows no node in client rows', async ({ page }, testInfo) => {
  await openDashboard(page);
  const mode = page.getByTestId('cluster-mode');
  await expect(mode).toHaveText('Single node');
  await expect(mode).toHaveAttribute('data-mode', 'single');
  await expect(page.getByTestId('cluster-summary')).toContainText('Single node');
  await expect(page.getByTestId('node-row')).toHaveCount(1);
  await expect(page.getByTestId('node-label')).toHaveText('This server');
  await expect(page.getByTestId('node-addr')).toHaveText(`127.0.0.1:${SERVER_PORT}`);
  await expect(page.getByTestId('node-id')).toHaveCount(0);

  const s = uniqueSession('single');
  clients.push(await NativeClient.sub('solo', s, 'x.>'));
  const group = sessionGroup(page, s);
  await expect(group.getByTestId('client-row')).toHaveCount(1);
  await expect(group.getByTestId('client-node')).toHaveCount(0);
  await page.getByTestId('cluster-panel').screenshot({ path: testInfo.outputPath('dashboard-single-node.png') });
});
