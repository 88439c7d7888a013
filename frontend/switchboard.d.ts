/**
 * Switchboard's browser client: the same Go client and end-to-end crypto as
 * the native SDK, compiled to WebAssembly and exposed as this JavaScript API.
 *
 * ```js
 * import { load } from 'http://localhost:8080/switchboard.js';
 *
 * const sb = await load();
 * const client = await sb.connect({
 *   url: 'ws://localhost:8080/ws',
 *   name: 'web-1',
 *   sessionId: 'demo',
 *   passphrase: 'correct horse battery staple', // optional: end-to-end encryption
 * });
 * await client.subscribe('chat.>', (msg) => console.log(msg.topic, msg.payload));
 * const seq = await client.publish('chat.room1', { text: 'hello' });
 *
 * // Who is in a room, and who comes and goes (topics without wildcards):
 * await client.subscribe('chat.room1', onMessage, {
 *   presence: (e) => console.log(e.name, e.event), // 'join' | 'leave'
 *   onGap: (gap) => resync(gap.topic), // missed messages that could not be replayed
 * });
 * const members = await client.presence('chat.room1'); // [{clientId, name}, …]
 * ```
 *
 * Serving: `switchboard.js`, `wasm_exec.js` and `switchboard.wasm` come from
 * the Switchboard server. A page on another origin needs that origin in the
 * server's `--allowed-origins` (for the WebSocket and for the CORS headers
 * that the module import and the wasm fetch require), and, under a Content
 * Security Policy, `script-src … 'wasm-unsafe-eval'`.
 *
 * Every method that talks to the server returns a Promise that rejects with
 * a {@link SwitchboardError}. Callbacks (handlers, `onState`, `onError`) run
 * one at a time, in order; an exception thrown by a handler is reported to
 * `onError` (code `'handler'`) and does not stop delivery.
 *
 * @packageDocumentation
 */

/** Options of {@link load}. */
export interface LoadOptions {
  /**
   * Where `switchboard.wasm` and `wasm_exec.js` are served. Default: the
   * directory `switchboard.js` itself was loaded from, so
   * `import { load } from 'http://sbhost:8080/switchboard.js'` needs no option.
   */
  baseUrl?: string | URL;
  /** How long to wait for the program to start, in ms. Default 20000. */
  timeoutMs?: number;
}

/**
 * Loads `wasm_exec.js` and `switchboard.wasm` and starts the Go program, once
 * per page: later calls return the same promise (and ignore a different
 * `baseUrl`). A failure before the program started (e.g. `not_built`) may be
 * retried by calling `load()` again.
 *
 * @throws {LoadError} (as a rejection) when the files are missing, cannot be
 *   compiled, or the program does not become ready within `timeoutMs`.
 */
export function load(options?: LoadOptions): Promise<Switchboard>;

/** Why {@link load} failed. The message says what to do. */
export interface LoadError extends Error {
  readonly name: 'SwitchboardLoadError';
  /**
   * - `not_built`: `switchboard.wasm` or `wasm_exec.js` is missing (HTTP 404,
   *   or not a wasm module): run `go tool task build`.
   * - `load_failed`: network or HTTP error, or the module does not compile.
   * - `incompatible`: `wasm_exec.js` and `switchboard.wasm` come from
   *   different Go versions.
   * - `start_failed`: the program crashed or exited before it was ready.
   * - `timeout`: not ready within `timeoutMs`.
   */
  readonly code: 'not_built' | 'load_failed' | 'incompatible' | 'start_failed' | 'timeout';
}

/** The API object the Go program registers. */
export interface Switchboard {
  /** The client library's version, e.g. `"0.1.0"`. */
  readonly version: string;

  /**
   * Opens a connection, sends `hello` and resolves after `welcome` (and, with
   * a passphrase or secret, after the session's encryption parameters were
   * read from `$meta.e2e` or created there and the key check passed).
   *
   * Rejects with a {@link SwitchboardError}: e.g. `unauthorized`,
   * `forbidden`, `bad_request` (invalid name or session id), `timeout`
   * (no welcome within `connectTimeoutMs`), `network` (the WebSocket could
   * not open), or `wrong_key` (the passphrase or secret does not match the
   * one this session was created with).
   */
  connect(options: ConnectOptions): Promise<Client>;

  /**
   * The original framework's one-call helper: connects (with reconnect),
   * subscribes each topic of `options.subscriptions` to its handler, then
   * calls `publishAction(client)` and resolves to the client. `options` also
   * takes any {@link ConnectOptions} field (passphrase, onError, …). A
   * `publishAction` that throws rejects with code `'handler'` and closes the
   * client.
   *
   * @param name the client name (stamped as `publisherName`).
   * @param url the WebSocket URL, e.g. `ws://localhost:8080/ws`.
   * @param sessionId defaults to `` `session-${name}` ``.
   */
  createClient(
    name: string,
    url: string,
    options?: { subscriptions?: Record<string, (msg: Message) => void> } & Partial<Omit<ConnectOptions, 'url' | 'name' | 'sessionId'>>,
    publishAction?: (client: Client) => void | Promise<void>,
    sessionId?: string,
  ): Promise<Client>;
}

/**
 * Options of {@link Switchboard.connect}. Zero values mean the default.
 * `url`, `urls` or both must be given.
 */
export interface ConnectOptions {
  /** WebSocket URL of the server's endpoint, e.g. `wss://sb.example.com/ws`. */
  url?: string;
  /**
   * More servers of the same deployment (the nodes of a cluster), for
   * failover: the client's servers are `url`, when given, followed by
   * `urls`, each validated (a bad one rejects `connect` with
   * `'bad_request'`), duplicates dropped. `connect` tries them once each, in
   * order, and resolves with the first that connects (shuffle the list to
   * spread clients over the nodes). After a drop, the client reconnects to
   * the next URL in rotation: rounds of one attempt per URL, starting after
   * the lost one, with the backoff before each round, growing per round,
   * none between the URLs of a round. Subscriptions, recovery and unacked
   * publishes carry over as after any reconnect; a node that numbers its
   * topics separately answers a resubscribe with `onGap` (reason
   * `'epoch_changed'`). {@link Client.url} tells where the client is.
   * Default: `url` only.
   */
  urls?: string[];
  /** Client name, 1–64 characters from `A-Z a-z 0-9 _ . - @ :`; stamped as `publisherName`. */
  name: string;
  /** Session to join (fixed for the life of the client). Default `` `session-${name}` ``. */
  sessionId?: string;
  /** Credential sent in `hello` (e.g. a JWT from `switchboard token`). Default: none. */
  token?: string;
  /**
   * Supplies the token instead of `token`: called before every connection
   * attempt (so a reconnect presents a fresh token) and again before the
   * current token expires (read from the JWT's `exp`: when a quarter of its
   * life remains), whose result is sent as a `refresh` on the open
   * connection. It may return the token or a promise of it; the client waits
   * for the promise (at most the connect timeout before a connection). A
   * provider that throws, rejects or returns no string fails that attempt:
   * `connect` rejects (code `'bad_request'` for a non-string), a failed
   * refresh goes to `onError` and is retried while the token lasts. When both
   * are given, `tokenProvider` wins. Default: none.
   */
  tokenProvider?: () => string | Promise<string>;
  /**
   * Enables end-to-end encryption with a key derived from this passphrase
   * (Argon2id; the salt and parameters live in the session's `$meta.e2e`).
   * Every member of the session must use the same one. Default: no encryption.
   */
  passphrase?: string;
  /**
   * Enables end-to-end encryption with a random 256-bit secret shared out of
   * band (e.g. an invite link's `#fragment`), instead of a passphrase.
   */
  secret?: string;
  /**
   * Also sign every message (Ed25519) and verify senders' signatures; needs
   * `passphrase` or `secret`. Default false.
   */
  signed?: boolean;
  /**
   * Reconnect with exponential backoff after a drop, following the
   * close-code table of the protocol (4000–4399 reconnect, 4400–4499 stop),
   * resubscribe, and recover what was missed: each subscription to a topic
   * without wildcards resumes from the last `seq` it received, and the
   * server replays the messages published meanwhile, exactly once and in
   * order, when its history still holds them (by default the last 100 of at
   * most 5 minutes). When it cannot, the subscription's
   * {@link SubscribeOptions.onGap} and `onError` (code `'not_recovered'`)
   * say so and delivery goes on live. Publishes waiting for their ack when
   * the connection dropped are sent again and stored once. Default true.
   */
  reconnect?: boolean;
  /** Receive your own publishes on topics you subscribe to. Default true. */
  echo?: boolean;
  /** How long to wait for `welcome`, in ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Called on every state change (also for the first `'connecting'`). */
  onState?: (state: ConnectionState) => void;
  /**
   * Called for errors that belong to no pending call: a message that failed
   * to decrypt (`wrong_key`, `tampered`, `replay`, …; the message is dropped),
   * an `error` from the server without an `id`, a handler that threw
   * (`handler`), messages missed during an outage that could not be
   * recovered (`not_recovered`, with the {@link GapInfo} properties), a
   * terminal close (`closed`, with `closeCode`), after which the client has
   * released everything by itself. Default: `console.error`.
   */
  onError?: (error: SwitchboardError) => void;
}

/**
 * `'connecting'` until `welcome`; `'connected'`; `'reconnecting'` after a drop
 * while backing off and retrying (calls made meanwhile wait, bounded); `'closed'`
 * after {@link Client.close} or a terminal close code (final).
 */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** A delivered message. */
export interface Message {
  topic: string;
  /** The payload, already decrypted when it was end-to-end encrypted. */
  payload: unknown;
  /** The publisher's client name, stamped by the server (`"$server"` for the operator API). */
  publisherName: string;
  /**
   * RFC 3339: the publisher's timestamp if it gave one, else the server's
   * receive time. Absent only when the server sent none.
   */
  timestamp?: string;
  sessionId: string;
  /** Per (session, topic) sequence number; absent for requests, sends and broadcasts. */
  seq?: number;
  /** Set on a message produced by `request`: answer it through `onRequest`. */
  replyTo?: string;
  /** Set on a message produced by `send`: the sender's `clientId`. */
  from?: string;
  /** True when the payload arrived end-to-end encrypted and was opened by this client. */
  encrypted: boolean;
}

/** Protocol error codes (PROTOCOL.md, "Errors"), plus client-side ones. */
export type ErrorCode =
  // from the server
  | 'bad_request' | 'not_ready' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict'
  | 'too_large' | 'rate_limited' | 'timeout' | 'no_responders' | 'unsupported' | 'internal'
  // end-to-end decryption and verification
  | 'wrong_key' | 'tampered' | 'replay' | 'stale' | 'unsigned' | 'unknown_sender' | 'key_changed'
  | 'plaintext' // a plaintext payload refused in a session that requires encryption
  // client side
  | 'network' | 'closed' | 'not_connected' | 'slow_consumer' | 'handler'
  | 'not_recovered' // messages missed during an outage could not be replayed (onError only)
  | (string & {});

/** An error from the server or the client library. */
export interface SwitchboardError extends Error {
  /**
   * Stable code: a protocol error code (`'forbidden'`, `'timeout'`, …), a
   * decryption failure (`'wrong_key'`, `'tampered'`, `'replay'`, …) or a
   * client-side one (`'network'`, `'closed'`, `'handler'`).
   */
  code: ErrorCode;
  /** When a WebSocket close caused the error: its close code (e.g. 4003, 4401). */
  closeCode?: number;
  /**
   * On a decryption failure: the message's topic, publisher and seq. On
   * `not_recovered`: the subscription's topic, and `seq` as in {@link GapInfo}.
   */
  topic?: string;
  publisherName?: string;
  seq?: number;
  /** On `not_recovered`: why, as in {@link GapInfo}. */
  reason?: GapInfo['reason'];
  /** On `not_recovered`: the last seq received before the outage, as in {@link GapInfo}. */
  lastSeq?: number;
  /** On `not_recovered`: the stream's epoch now, as in {@link GapInfo}. */
  epoch?: string;
}

/**
 * Where a subscription to a topic stands in the topic's stream: the stream's
 * `epoch` (one incarnation of the topic: it changes when the server lost the
 * topic's history, e.g. a restart without durable storage, or the topic
 * expired) and the last `seq` received. Save it (it is plain JSON) to resume
 * later with {@link SubscribeOptions.since}.
 */
export interface Position {
  epoch: string;
  seq: number;
}

/** Options of {@link Client.subscribe}. Every one is optional. */
export interface SubscribeOptions {
  /**
   * Presence events of the topic: called when another client of the session
   * subscribes to it (`'join'`) or leaves it (`'leave'`: unsubscribed, closed,
   * or dropped off — a reset connection is noticed at once, a silent one
   * within the server's heartbeat timeout). Never for this client itself,
   * never across sessions, and only for subscribers of exactly this topic (not
   * through a wildcard). Called in order with the messages. Only for a topic
   * without wildcards: on a pattern, `subscribe` rejects with `bad_request`.
   * {@link Client.presence} lists the members at any time. Default: no events.
   */
  presence?: (event: PresenceEvent) => void;
  /**
   * Called when messages missed during an outage could not be recovered
   * after a reconnect (the server answered `recovered: false`), or could not
   * be replayed from {@link SubscribeOptions.since}: delivery goes on live from `info.seq`,
   * and the application should resynchronize (e.g. reload its state over
   * HTTP). `onError` also gets a `SwitchboardError` with code
   * `'not_recovered'`. Patterns are never recovered, so it is never called
   * for one. Default: only `onError` hears of it.
   */
  onGap?: (info: GapInfo) => void;
  /**
   * Start from a saved {@link Subscription.position} instead of from now:
   * the server first replays the messages after it that its history still
   * holds, then live ones, with no gap and no duplicate; or, when it cannot,
   * `onGap` says why. Only for a topic without wildcards (else
   * `bad_request`), and only when this client does not subscribe to the
   * topic yet (otherwise it is ignored). Default: from now.
   */
  since?: Position;
}

/** A presence event ({@link SubscribeOptions.presence}). */
export interface PresenceEvent {
  topic: string;
  event: 'join' | 'leave';
  /** The client that joined or left (its `clientId` on that connection). */
  clientId: string;
  /** Its client name. */
  name: string;
}

/** A client subscribed to a topic ({@link Client.presence}). */
export interface Member {
  clientId: string;
  name: string;
}

/** Why missed messages were not replayed ({@link SubscribeOptions.onGap}). */
export interface GapInfo {
  topic: string;
  /**
   * - `epoch_changed`: the topic's history was lost (a server restart
   *   without durable storage, or the topic expired while unused), or the
   *   saved position is ahead of the stream.
   * - `too_far_behind`: some missed messages are no longer kept (the outage
   *   outlasted the history's count or age limit).
   * - `no_history`: the server keeps no history for this topic.
   */
  reason: 'epoch_changed' | 'too_far_behind' | 'no_history' | (string & {});
  /** The last seq received before the outage (or the saved position's). */
  lastSeq: number;
  /** The stream's epoch now. */
  epoch: string;
  /** The stream's latest seq when delivery resumed: live messages follow it. */
  seq: number;
}

/** An active subscription. */
export interface Subscription {
  /** The topic or pattern as subscribed. */
  readonly pattern: string;
  /**
   * The subscription's current position: a new object on each read. For a
   * topic, the stream's epoch and the last seq received (the topic's latest
   * seq right after subscribing); for a pattern, `{epoch: '', seq: 0}`. After
   * `unsubscribe` or `close` it keeps its last value.
   */
  readonly position: Position;
  /**
   * Stops delivery to this handler at once; the server's unsubscribe is
   * queued and the promise resolves without waiting for its ack.
   */
  unsubscribe(): Promise<void>;
}

/** A connected participant of one session. */
export interface Client {
  /** The id the server assigned (`welcome.client_id`); changes after a reconnect. */
  readonly clientId: string;
  /**
   * The URL of the current connection (the last one between connections),
   * normalized (`ws://` or `wss://`, with its path); with
   * {@link ConnectOptions.urls} it changes on a failover.
   */
  readonly url: string;
  readonly name: string;
  readonly sessionId: string;
  /** True when payloads are end-to-end encrypted (a passphrase or secret was given). */
  readonly encrypted: boolean;

  /**
   * Subscribes a handler to a topic or pattern (`*` one token, `>` the rest,
   * e.g. `chat.>`). Resolves after the server's `ack`; with `options.since`,
   * the replayed messages follow it, before any live one.
   *
   * The subscription survives reconnects by itself: for a topic without
   * wildcards, the client resumes from the last seq it received and the
   * server replays what was missed meanwhile (see
   * {@link ConnectOptions.reconnect}); `options.onGap` hears when that was
   * impossible. Several subscriptions to one pattern share one on the server.
   *
   * Rejects with `bad_request` (an invalid pattern, `presence` or `since` on
   * a pattern with wildcards, options of the wrong type), `forbidden`,
   * `too_large` (too many subscriptions).
   */
  subscribe(pattern: string, handler: (msg: Message) => void, options?: SubscribeOptions): Promise<Subscription>;

  /**
   * Publishes to a topic (no wildcards); encrypts the payload first when the
   * client is encrypted. Resolves to the message's `seq` after the `ack`.
   * @param payload any JSON-serialisable value.
   */
  publish(topic: string, payload: unknown, options?: { timestamp?: string }): Promise<number>;

  /**
   * Sends a request and resolves to the first reply (its `payload`,
   * `publisherName`, `timestamp`). Rejects with `timeout` or `no_responders`.
   * @param options.timeoutMs default 5000, at most 60000.
   */
  request(topic: string, payload: unknown, options?: { timeoutMs?: number }): Promise<Message>;

  /**
   * Answers requests on a topic or pattern: the handler's return value (or
   * the value its promise resolves to) is sent back as the reply. Only
   * requests reach the handler (plain publishes on the pattern do not). A
   * handler that throws or rejects is reported to `onError` (code
   * `'handler'`) and the requester gets the reply `{"error": message}`.
   */
  onRequest(pattern: string, handler: (msg: Message) => unknown | Promise<unknown>): Promise<Subscription>;

  /** Delivers a message to one client of the same session (`not_found` otherwise). */
  send(toClientId: string, topic: string, payload: unknown): Promise<void>;

  /**
   * Lists the clients of this session subscribed to a topic (this client
   * included when it is one), sorted by name then `clientId`. A topic, not a
   * pattern (`bad_request`); subscribers through a wildcard are not listed.
   * The list reflects every presence event received before it.
   */
  presence(topic: string): Promise<Member[]>;

  /**
   * Handles messages that match no subscription of this client: direct
   * sends, operator sends and broadcasts. Replaces the previous default handler.
   */
  onDefault(handler: (msg: Message) => void): void;

  /** Sends a protocol `ping`; resolves to the round-trip time in ms. */
  ping(): Promise<number>;

  /** Closes the connection (code 1000) and stops reconnecting; state becomes `'closed'`. */
  close(): Promise<void>;
}

