// Package client is Switchboard's Go client: it connects to a server over
// WebSocket, joins a session, subscribes to topics and patterns, publishes,
// makes requests and answers them, sends to one client directly, and keeps
// all of that alive across reconnects. The same code compiles natively and
// for GOOS=js GOARCH=wasm, where the browser build wraps it.
//
// It owns the client side of the wire protocol (the protocol package holds
// the types; PROTOCOL.md is the contract): hello and welcome, ids and the
// matching of acks, responses and errors to calls, splitting the server's
// newline-delimited batched frames, batching its own, heartbeats,
// reconnection and resubscription, and the routing of messages to handlers.
// It does not own payload encryption; sealing plugs in later at the payload
// boundary.
//
// # Shapes
//
// The main API takes a context first and reports the server's answer:
//
//	c, err := client.Dial(ctx, "ws://localhost:8080/ws", client.Options{Name: "svc"})
//	sub, err := c.Subscribe(ctx, "orders.*", func(m *client.Message) { … })
//	seq, err := c.Publish(ctx, "orders.eu", order)
//	resp, err := c.Request(ctx, "prices.get", query)
//
// The original framework's shape (Connect, SubscribeTopic then OnMessage,
// PublishWithTimestamp) is in compat.go as thin wrappers.
//
// Payloads are any Go value, encoded with encoding/json; json.RawMessage and
// []byte are taken as JSON text and sent as they are (validated, never
// base64-encoded). Message.Payload is the raw JSON; Message.Decode
// unmarshals it.
//
// # Concurrency
//
// A Client is safe for concurrent use. Its goroutines are: one that owns the
// connection (reads it, reconnects), one writer per connection, and one
// handler goroutine. Every user callback (handlers, OnState, OnError,
// DefaultHandler) runs on the handler goroutine, one at a time, in the order
// the events happened, and never under one of the client's locks: a handler
// may call any method, including Publish, Request, Subscribe and Close.
//
// A slow handler delays only the handlers after it. Messages wait for it in
// a queue of Options.DispatchQueueSize (default 4096); when the queue is
// full, new messages are dropped (the reader never blocks, so acks,
// responses and pongs keep flowing) and ErrSlowConsumer reaches OnError
// with the number dropped. Messages of one topic reach handlers in seq
// order. A message goes to every handler whose pattern matches its topic,
// in registration order, and to Options.DefaultHandler only when none
// does.
//
// Writes go through one bounded outbox: objects queued while the writer is
// busy are joined into one frame of at most the server's max_frame_bytes.
// When the outbox is full (Options.MaxBufferedMessages, MaxBufferedBytes)
// while connected, calls wait for room until their context ends.
//
// Close waits for all goroutines to end (except the handler goroutine if
// Close is called from a handler, which ends as soon as that handler
// returns), so a closed client leaks nothing.
//
// # Reconnection
//
// When a connection is lost, the client reconnects by itself unless
// Options.DisableReconnect is set or the server closed with a terminal code:
// 1000 and 4400–4499 (except 4429) stop the client, as does a hello refused
// with unauthorized, forbidden or bad_request, or an HTTP 401 or 403 on the
// handshake; Client.Err then says why and Client.Done is closed. Attempt n
// waits a random time in [0, min(MaxBackoff, MinBackoff·2ⁿ)] (full jitter;
// defaults 100ms and 10s); after 4429 or HTTP 429 it waits RateLimitBackoff
// (30s) more. MaxReconnectAttempts (default unlimited) bounds the
// consecutive failures.
//
// OnState sees StateConnecting, StateConnected, then StateReconnecting and
// StateConnected for each outage, and StateClosed once. On each new
// connection the client gets a new ClientID, and every subscription is
// sent again, before anything buffered, with the same handlers. For a
// topic without wildcards the resubscribe asks for the messages missed
// since the last seq received (history recovery, when the server still has
// them in the same epoch); otherwise delivery resumes live, and what was
// published during the outage is lost.
//
// Calls already written to a lost connection and waiting for their answer
// (Publish, Request, Reply, Send, Ping) fail with ErrConnectionLost: the
// server may have processed them, so they are not retried (a retried
// publish could be delivered twice). Subscribe is different: it keeps
// waiting and completes on the next connection.
//
// # Outages
//
// Between connections, Options.Outage decides. With OutageBuffer (the
// default) publishes, requests, replies, sends and pings are queued, up to
// MaxBufferedMessages (4096) and MaxBufferedBytes (4 MiB), and written in
// order after the client has reconnected and resubscribed; beyond that they
// fail with ErrBufferFull. Acknowledged calls in the buffer wait for their
// answer until their context ends; a call whose context ends while it is
// still buffered is removed and never sent. With OutageFail, calls fail at
// once with ErrNotConnected, and what was queued but unsent when the
// connection dropped is discarded.
//
// # Errors
//
// Errors are wrapped once with the operation ("client: publish \"t\":
// not connected"). Test for the package's sentinels (ErrClosed,
// ErrNotConnected, ErrConnectionLost, ErrBufferFull, …) with errors.Is. The
// server's answers are *protocol.Error values: errors.Is(err,
// &protocol.Error{Code: protocol.CodeTimeout}) matches by code. A
// connection closed by the server is a *CloseError.
//
// # WebAssembly
//
// Under GOOS=js GOARCH=wasm the client uses the JavaScript environment's
// WebSocket (browsers, Node 22+, Node 20 with --experimental-websocket)
// through github.com/hack-pad/safejs, without net/http, which keeps the
// binary small. There:
//
//   - Options.Header and Options.Compression have no effect: browsers do not
//     let scripts set handshake headers (use Token, or a query parameter)
//     and negotiate compression themselves.
//   - Handshake failures are opaque: the browser reports neither the HTTP
//     status nor the reason, so an HTTP 401 or 403 is retried like any
//     network error; close codes sent by the server are reported.
//   - Writes never block: the browser buffers them, so WriteTimeout and the
//     backpressure of a slow network do not apply.
//   - WebSocket pings are answered by the browser and invisible to Go; the
//     client's own heartbeat (a ping object after a heartbeat interval of
//     silence, the connection given up after two) works the same on both
//     platforms.
//   - Methods that wait (Dial, Subscribe, Publish, Request, …) must not be
//     called from inside a JavaScript callback: the event loop would be
//     blocked and the program would deadlock. Call them from a goroutine
//     and resolve a Promise from there.
package client
