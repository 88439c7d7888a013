// Shared helpers for the browser tests: native Go clients spawned from the
// real binary, and the admin API.
import { spawn, ChildProcessWithoutNullStreams } from 'node:child_process';
import { expect } from '@playwright/test';
import { SERVER_PORT, ADMIN_TOKEN } from '../playwright.config';
import { CLUSTER_A_PORT, CLUSTER_B_PORT } from '../playwright.config';

export const WS_URL = `ws://127.0.0.1:${SERVER_PORT}/ws`;
export const HTTP_URL = `http://127.0.0.1:${SERVER_PORT}`;
export { ADMIN_TOKEN };
/** The two nodes of the test cluster (playwright.config.ts). */
export const CLUSTER_A_HTTP = `http://127.0.0.1:${CLUSTER_A_PORT}`;
export const CLUSTER_B_HTTP = `http://127.0.0.1:${CLUSTER_B_PORT}`;
export const CLUSTER_A_WS = `ws://127.0.0.1:${CLUSTER_A_PORT}/ws`;
export const CLUSTER_B_WS = `ws://127.0.0.1:${CLUSTER_B_PORT}/ws`;

/** A native client: `switchboard sub` (or any sub-command) running as a child process. */
export class NativeClient {
  readonly proc: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  exited: Promise<number | null>;

  constructor(args: string[]) {
    this.proc = spawn('./bin/switchboard', args, { stdio: 'pipe' });
    this.proc.stdout.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.proc.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  /** Starts `switchboard sub` and waits until its subscription is acknowledged. */
  static async sub(name: string, session: string, pattern: string, extra: string[] = []): Promise<NativeClient> {
    const c = new NativeClient(['sub', '--url', WS_URL, '--name', name, '--session', session, '--verbose', ...extra, pattern]);
    await expect.poll(() => c.stderr, { message: `${name} subscribes` }).toContain(`subscribed to ${pattern}`);
    return c;
  }

  /** Like sub, against the server at url (e.g. one node of the cluster). */
  static async subAt(url: string, name: string, session: string, pattern: string, extra: string[] = []): Promise<NativeClient> {
    const c = new NativeClient(['sub', '--url', url, '--name', name, '--session', session, '--verbose', ...extra, pattern]);
    await expect.poll(() => c.stderr, { message: `${name} subscribes at ${url}` }).toContain(`subscribed to ${pattern}`);
    return c;
  }

  /** Runs a one-shot command (pub, request) to completion and returns its output. */
  static async run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const c = new NativeClient(args);
    const code = await c.exited;
    return { code, stdout: c.stdout, stderr: c.stderr };
  }

  lines(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '');
  }

  stop(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGTERM'); // by PID: our own child
  }
}

/** Calls the admin API with the test token. */
export async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${HTTP_URL}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A session id unique to one test, so tests never see each other's traffic. */
export function uniqueSession(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Calls the admin API of the server at base (e.g. a cluster node's http://127.0.0.1:port) with the test token. */
export async function adminAt(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${base}${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Resolves once the server at base answers /healthz with 200 (polling, no fixed wait). */
export async function waitHealthy(base: string, timeout = 60_000): Promise<void> {
  await expect
    .poll(async () => fetch(`${base}/healthz`).then((r) => r.status, () => 0), { message: `${base} is healthy`, timeout })
    .toBe(200);
}
