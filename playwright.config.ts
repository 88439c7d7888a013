// Playwright drives Switchboard in Debian's Chromium (never a downloaded
// browser). `go tool task test:browser` builds bin/switchboard first; the
// config starts it (and two static servers for the cross-origin tests) and
// waits for /healthz. It also starts a two-node cluster (embedded NATS,
// routes between the two) for playwright/cluster.spec.ts.
import { defineConfig } from '@playwright/test';
import { execSync } from 'node:child_process';

export const SERVER_PORT = Number(process.env.SB_TEST_PORT || 18181);
export const ALLOWED_PORT = SERVER_PORT + 1; // a page on another origin that the server allows
export const DENIED_PORT = SERVER_PORT + 2; // a page on an origin it does not allow
export const ADMIN_TOKEN = 'playwright-admin-token';
// The two nodes of the cluster: HTTP/WebSocket ports, and the ports where
// their embedded NATS servers route to each other.
export const CLUSTER_A_PORT = SERVER_PORT + 10;
export const CLUSTER_B_PORT = SERVER_PORT + 11;
const CLUSTER_A_ROUTE_PORT = SERVER_PORT + 20;
const CLUSTER_B_ROUTE_PORT = SERVER_PORT + 21;
const CLUSTER_ROUTES = [CLUSTER_A_ROUTE_PORT, CLUSTER_B_ROUTE_PORT].map((p) => `nats-route://127.0.0.1:${p}`).join(',');

function clusterNode(name: string, port: number, routePort: number): string {
  return (
    `./bin/switchboard serve --addr 127.0.0.1:${port} --admin-token ${ADMIN_TOKEN} --log-level warn ` +
    `--nats-embedded --nats-name ${name} --nats-cluster 127.0.0.1:${routePort} --nats-routes ${CLUSTER_ROUTES}`
  );
}

function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execSync('command -v chromium', { encoding: 'utf8' }).trim();
  } catch {
    throw new Error("Debian's chromium is not installed: apt-get install -y chromium");
  }
}

export default defineConfig({
  testDir: './playwright',
  outputDir: './playwright/test-results',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list'], ['html', { outputFolder: 'playwright/report', open: 'never' }]],
  use: {
    baseURL: `http://127.0.0.1:${SERVER_PORT}`,
    viewport: { width: 1280, height: 800 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromiumPath(),
      args: [
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
        '--disable-gpu',
      ],
    },
  },
  webServer: [
    {
      command:
        `./bin/switchboard serve --addr 127.0.0.1:${SERVER_PORT} --admin-token ${ADMIN_TOKEN} ` +
        `--allowed-origins 127.0.0.1:${ALLOWED_PORT} --log-level warn`,
      url: `http://127.0.0.1:${SERVER_PORT}/healthz`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      command: `node playwright/static-server.mjs ${ALLOWED_PORT} playwright/pages`,
      url: `http://127.0.0.1:${ALLOWED_PORT}/healthz`,
      reuseExistingServer: false,
    },
    {
      command: `node playwright/static-server.mjs ${DENIED_PORT} playwright/pages`,
      url: `http://127.0.0.1:${DENIED_PORT}/healthz`,
      reuseExistingServer: false,
    },
    // A cluster node serves HTTP only once JetStream has accepted its stream,
    // which takes the other node, and Playwright starts its web servers one
    // after the other, each once the one before is up. So node A is started
    // without a wait, node B after it waits for its own /healthz, and
    // cluster.spec.ts waits for node A's before its tests. SIGTERM lets each
    // node remove its temporary JetStream directory.
    {
      command: clusterNode('playwright-a', CLUSTER_A_PORT, CLUSTER_A_ROUTE_PORT),
      reuseExistingServer: false,
      gracefulShutdown: { signal: 'SIGTERM', timeout: 10_000 },
      stdout: 'ignore',
      stderr: 'pipe',
      name: 'cluster-a',
    },
    {
      command: clusterNode('playwright-b', CLUSTER_B_PORT, CLUSTER_B_ROUTE_PORT),
      url: `http://127.0.0.1:${CLUSTER_B_PORT}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      gracefulShutdown: { signal: 'SIGTERM', timeout: 10_000 },
      stdout: 'ignore',
      stderr: 'pipe',
      name: 'cluster-b',
    },
  ],
});
