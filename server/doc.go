// Package server is the Switchboard server: an Echo application serving the
// WebSocket endpoint (/ws) of the wire protocol (protocol package,
// PROTOCOL.md), the admin HTTP API (/api/v1, Bearer admin token) with its
// live event stream (/api/v1/events), health endpoints (/healthz, /readyz),
// and the dashboard and browser client (/), over the in-memory routing hub
// (server/internal/hub). Every route is listed in routes.go.
//
// Use New and Run for a standalone server, or mount Handler in a program's
// own HTTP server (then call Close when done). The operator API is also
// available as Go methods: Clients, Sessions, PublishToSession,
// SendToClient, Broadcast, Disconnect.
//
// # Connections
//
// The server never reads payloads: it routes them. It stamps publisher_name
// and session_id from the connection, never from what the client sends.
// Each connection has one reader goroutine that serves its frames in order,
// queueing its answers to the connection's own bounded queue: a client
// flooding frames only delays itself, and one that does not read its
// answers becomes a slow consumer. A writer goroutine runs only while
// something is queued and writes all queued objects as one text frame
// (up to 256 KiB). Close handshakes and pings run on short-lived goroutines;
// one housekeeping goroutine (the sweeper) serves all connections: it sends
// pings every Heartbeat and enforces the hello, heartbeat and write timeouts.
// Every goroutine starts through the server's tracker, and Close waits for
// all of them.
//
// No lock is held while writing to a socket. The hub's lock order is
// documented in its package; the server adds Server.connsMu (the connection
// registry), never held while calling into the hub or a socket, and the
// tracker's lock, held only to start a goroutine.
//
// # Errors and close codes
//
// An error object never closes a connection by itself. Protocol violations
// (errors bad_request, unsupported, not_ready, forbidden, too_large) are
// counted: more than MaxViolations (100) within 10 s close with 4400. A
// publish, request, send or subscribe naming a reserved topic other than
// $meta. gets forbidden (it is well-formed but not the client's to use);
// malformed topics and wildcards where none is allowed get bad_request.
// Close codes: 1009 frame over MaxFrameBytes, 4000 shutdown, 4001 slow
// consumer, 4002 no hello in time or heartbeat timeout, 4003 operator
// disconnect, 4400 repeated violations. A write stuck for WriteTimeout drops
// the TCP connection.
//
// # Limits
//
// Frames from clients: MaxFrameBytes (64 KiB). Subscriptions: 100 per
// connection. Outgoing queue: QueueBytes (4 MiB) per connection. Pending
// requests: 1000 per connection. Admin API bodies: 1 MiB. Request timeouts:
// 5 s by default, at most 60 s. Rate limits and quotas are below. History: 100 messages and 5 minutes per
// topic by default (Config.History), 256 MiB for all (HistoryBytes).
//
// # Delivery (history.go)
//
// Every topic keeps a bounded history; a subscribe with since replays what
// a client missed, publishes with an id are acknowledged once stored and,
// from a client that declared an instance in hello, de-duplicated, and
// presence lists and announces a topic's subscribers (docs/delivery.md has
// the guarantees and the tests behind them). With Config.DataDir, the
// histories are kept in DataDir/history.db (server/internal/store/bolt)
// and survive a restart with the same epochs and seqs; Close flushes them.
// The admin API reads them: GET /api/v1/sessions/{id}/history?topic=T and
// GET /api/v1/sessions/{id}/topics/{topic}/presence (Server.History and
// Server.Presence in Go). A connection silent past the heartbeat timeout
// is closed with 4002 and dropped 250 ms later without waiting for its
// close frame, so that its presence ends within the timeout.
//
// # Security and operations (auth.go, ratelimit.go, tls.go, metrics.go)
//
// docs/operations.md is the operator's guide; the rules:
//
//   - Authentication: with Config.AuthSecret (HS256) or AuthPublicKey
//     (EdDSA), hello needs a signed token (TokenClaims; in hello, the query,
//     or the upgrade's Authorization: Bearer header). A missing, invalid,
//     expired, not-yet-valid, oversized (protocol.MaxTokenBytes) or
//     wrong-algorithm token closes the connection with 4401; a token that
//     does not allow the hello's name (sub) or session (sid) with 4403. Each
//     key serves only its own algorithm. The token's topic patterns and
//     service role reach the hub as hub.Permissions. The sweeper closes a
//     connection with 4401 once its token expires, unless a refresh object
//     brought a newer one. Without either key the server is in open
//     development mode, and Run warns at start. Tokens, secrets and the
//     configured admin token are never logged.
//   - Service clients: a token with "service":true may subscribe with
//     all_sessions and publish or reply with another session's session_id
//     (the hub's explicit cross-session path); nothing else may.
//   - Limits: PublishRate and SessionPublishRate (publish, request, reply,
//     send), SubscribeRate (subscribe, unsubscribe, presence, refresh), from
//     golang.org/x/time/rate; each refusal is an error rate_limited, and more
//     than MaxRateLimited within 10 s close with 4429. MaxConnsPerSession
//     closes a hello beyond it with 4429; MaxConnsPerAddr refuses an upgrade
//     beyond it with HTTP 429 (the peer address: forwarding headers are not
//     trusted). ReadHeaderTimeout bounds slow request headers (slowloris).
//   - TLS: Run serves HTTPS (HTTP/1.1, TLS 1.2+) with TLSCertFile and
//     TLSKeyFile, reloaded by ReloadTLS (SIGHUP in serve) and when the
//     files change; TLSRedirectAddr redirects plain HTTP. Compression
//     offers permessage-deflate without context takeover.
//   - Metrics: GET /metrics (admin token unless PublicMetrics) in the
//     Prometheus format, from a registry per Server (Registry). The hub's
//     counters are read on scrape; nothing on the publish path calls
//     Prometheus. /healthz and /readyz are public unless PrivateHealth. Each
//     WebSocket connection ends with one "websocket closed" access log line.
//
// The quotas' lock (Server.quotas.mu) is a leaf: never held while calling
// into the hub or a socket.
//
// # Dashboard and browser client (static assets)
//
// Config.Assets (the assets package's build output: the dashboard,
// switchboard.js, switchboard.d.ts, switchboard.wasm and Go's wasm_exec.js)
// is served at /, a directory by its index.html (a directory URL without
// its trailing slash is redirected to it). Dot files are not served. New
// reads every file once and keeps, per file, its Content-Type and an ETag
// (the first 16 hex digits of the SHA-256 of its bytes, quoted); the files
// must not change afterwards.
//
//   - Content-Type by extension, independent of the host's MIME tables:
//     .wasm application/wasm; .js and .mjs text/javascript; charset=utf-8;
//     .ts (.d.ts) text/plain; charset=utf-8; .html text/html; charset=utf-8;
//     .css text/css; charset=utf-8; .svg image/svg+xml; .json application/json;
//     others by mime.TypeByExtension, else application/octet-stream. Every
//     asset has X-Content-Type-Options: nosniff.
//   - Pre-compressed variants: X.br and X.gz next to X are served for X to
//     clients whose Accept-Encoding accepts them (q > 0, or "*"): br first,
//     then gzip, else X itself; with Content-Encoding, X's Content-Type,
//     their own Content-Length and ETag, and Vary: Accept-Encoding. Nothing
//     is compressed on the fly.
//   - Caching: every asset has Cache-Control: no-cache and its ETag; a
//     matching If-None-Match gets 304. No file name carries a content hash,
//     so browsers revalidate each time (cheaply) and a new build is never
//     served stale. HEAD and byte ranges are supported.
//   - Cross-origin embedding: a page whose Origin passes the WebSocket
//     endpoint's origin rule (the server's own host, or a
//     Config.AllowedOrigins pattern matched with path.Match,
//     case-insensitively, against the Origin's host[:port], or
//     scheme://host[:port] when the pattern holds "://") gets
//     Access-Control-Allow-Origin: <its origin> on every asset, so that it
//     can import switchboard.js and fetch switchboard.wasm and wasm_exec.js,
//     and on their 404s (also without Config.Assets), so that it can tell a
//     browser client that is not built from a refused origin. No
//     credentials are allowed. Other origins and requests without an
//     Origin get no CORS header. Assets carry Vary: Origin. The admin API
//     (/api/v1) never sends CORS headers: it serves the same-origin
//     dashboard only.
//
// Without Config.Assets, / is a placeholder page that gives the WebSocket
// URL and says how to build the dashboard.
//
// # Live event stream
//
// GET /api/v1/events (admin token) is the dashboard's live feed. The
// request's own goroutine serves it from a hub monitor: publishers never
// wait for it. Watching costs the hub nothing while no stream is open; each
// stream receives at most Config.EventRate (200) message events per second
// (with a burst of a quarter of that), and the others are counted in
// "sampled" events; at most 256 events wait for a stream that cannot keep
// up, and the others are counted in "dropped" events. The stream ends when
// the client goes away, when a write stalls for WriteTimeout, and when the
// server starts shutting down (Run and Close end it first, so that a
// graceful shutdown never waits for it); a new one is then refused with
// 503. The format is described at the end of this comment.
//
// # Events stream format (GET /api/v1/events)
//
// Authorization: Bearer <admin token>; without it 401 {"code":"unauthorized"}.
// The answer is 200 with Content-Type: application/x-ndjson and
// Cache-Control: no-store, a chunked body of one JSON object per line, each
// line flushed when written. Every object has a string "type"; clients must
// ignore types and fields they do not know. EventSource cannot send the
// Authorization header: read it with fetch and a body reader.
//
//	{"type":"stats","time":"2024-01-24T10:25:37.123Z","connections":2,"sessions":2,"msgs_in_per_sec":10.5,"msgs_out_per_sec":20,"bytes_in_per_sec":800,"bytes_out_per_sec":1600.5}
//
// Once a period (1 s), which also keeps the stream alive, the first one
// period after the stream opens. time: RFC 3339, UTC, milliseconds.
// connections: WebSocket connections (welcomed or not); sessions: sessions
// in the hub (with clients, subscriptions or retained values). The rates are
// per second over the last period, to one decimal: objects (msgs) and bytes
// received from clients (in) and sent to clients (out).
//
//	{"type":"message","kind":"publish","session_id":"s1","topic":"news","publisher_name":"alice","seq":42,"timestamp":"2024-01-24T10:25:37Z","size":17,"delivered":3,"preview":"{\"headline\":\"hi\"}","encrypted":false}
//
// One message that went through the server. kind: "publish" (by a client or
// the operator, with its seq), "request", "send" (by a client or the
// operator, to one client) or "broadcast" (the operator's, to every session:
// no session_id). seq is absent when the message has none. timestamp: the
// message's own (the publisher's, or the server's receive time). size: the
// payload's length in bytes; delivered: the connections it reached.
// preview: the payload's JSON text, its first 200 characters, followed by
// "…" and with "truncated":true when it is longer. encrypted: the payload is
// a JSON string starting with "e2e:" (an end-to-end encrypted envelope,
// which the server cannot open; the preview then shows ciphertext). Events
// of one topic arrive in seq order. Replies, acks and retained values
// delivered on subscribe are not reported.
//
//	{"type":"sampled","count":1234,"limit":200}
//
// Before a stats event, when message events were left out since the last
// one to keep to the stream's rate: count is how many, limit the rate (per
// second).
//
//	{"type":"dropped","count":17}
//
// Before a stats event, when message events were lost since the last one
// because this stream's client did not read fast enough.
package server
