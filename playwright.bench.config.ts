// Benchmarks in Chromium, apart from the tests: `go tool task bench:browser`.
// The main config's browser and launch options, and one server on its port
// (without the per-connection publish limit, so that one publisher socket
// can outrun the client under measurement). Nothing here asserts a speed:
// the specs print what they measured.
import { defineConfig } from '@playwright/test';
import base, { SERVER_PORT, ADMIN_TOKEN } from './playwright.config';

export default defineConfig({
  ...base,
  testDir: './playwright/bench',
  testMatch: '**/*.bench.ts',
  outputDir: './playwright/test-results/bench',
  timeout: 120_000,
  reporter: [['list']],
  use: {
    ...base.use,
    launchOptions: {
      ...base.use!.launchOptions,
      // Two pages run at once and only one is in front: keep Chromium from
      // lowering the other's priority (nice) and throttling its timers.
      args: [
        ...(base.use!.launchOptions!.args ?? []),
        '--disable-renderer-backgrounding',
        '--disable-background-timer-throttling',
        '--disable-backgrounding-occluded-windows',
      ],
    },
  },
  webServer: {
    command:
      `./bin/switchboard serve --addr 127.0.0.1:${SERVER_PORT} --admin-token ${ADMIN_TOKEN} --log-level warn ` +
      `--publish-rate -1 --session-publish-rate -1`,
    url: `http://127.0.0.1:${SERVER_PORT}/healthz`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
