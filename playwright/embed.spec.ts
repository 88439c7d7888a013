// The README's embed snippet, pasted into a page on another origin: it works
// from an origin the server allows, and is refused from one it does not.
import { test, expect } from '@playwright/test';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { SERVER_PORT, ALLOWED_PORT, DENIED_PORT } from '../playwright.config';
import { NativeClient, WS_URL } from './helpers';

/** The HTML block of the README's "Embed in your page" section, pointed at the test server. */
function readmeSnippet(): string {
  const readme = readFileSync('README.md', 'utf8');
  const m = readme.match(/<!-- embed-snippet -->\s*```html\n([\s\S]*?)```/);
  if (!m) throw new Error('README.md has no embed snippet (marked <!-- embed-snippet -->)');
  return m[1]
    .replaceAll('http://localhost:8080', `http://127.0.0.1:${SERVER_PORT}`)
    .replaceAll('ws://localhost:8080', `ws://127.0.0.1:${SERVER_PORT}`);
}

test.beforeAll(() => {
  mkdirSync('playwright/pages/generated', { recursive: true });
  writeFileSync('playwright/pages/generated/embed.html', readmeSnippet());
});

test('the README snippet works from an allowed origin', async ({ page }) => {
  const watcher = await NativeClient.sub('watcher', 'demo', 'chat.>', ['--passphrase', 'correct horse battery staple']);
  try {
    await page.goto(`http://127.0.0.1:${ALLOWED_PORT}/generated/embed.html`);
    // The snippet subscribes, then publishes a greeting it receives itself.
    await expect(page.locator('#log li')).toContainText([/hello from web-/]);
    await expect.poll(() => watcher.stdout).toMatch(/chat\.room1 from web-\w+ seq=\d+ \(end-to-end encrypted\): \{"text":"hello from web-/);
  } finally {
    watcher.stop();
  }
});

test('the same page on a disallowed origin is refused', async ({ page }) => {
  const console: string[] = [];
  page.on('console', (m) => console.push(m.text()));
  await page.goto(`http://127.0.0.1:${DENIED_PORT}/generated/embed.html`);
  await expect.poll(() => console.join('\n')).toMatch(/CORS|blocked/i);
  await expect(page.locator('#log li')).toHaveCount(0);

  // Cross-site WebSocket hijacking: a script on that origin opening the
  // endpoint directly is refused before the upgrade.
  const outcome = await page.evaluate((url) => new Promise<string>((resolve) => {
    const ws = new WebSocket(url + '?name=hijacker&session_id=demo');
    ws.onopen = () => resolve('open');
    ws.onerror = () => resolve('refused');
  }), WS_URL);
  expect(outcome).toBe('refused');
});
