// Package server is the Switchboard server: an Echo application serving the
// WebSocket endpoint (/ws) of the wire protocol (protocol package,
// PROTOCOL.md), the admin HTTP API (/api/v1, Bearer admin token), health
// endpoints (/healthz, /readyz) and the dashboard (/), over the in-memory
// routing hub (server/internal/hub). Every route is listed in routes.go.
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
// 5 s by default, at most 60 s. The hello token is accepted and ignored
// until authentication exists; history recovery (since) answers
// recovered:false until history exists.
package server
