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
// With Options.E2E it also seals and opens payloads end to end; the crypto
// itself is the seal package's.
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
// consecutive failures. With several server URLs (Options.URLs), attempts
// go round them and n counts rounds: see Failover.
//
// OnState sees StateConnecting, StateConnected, then StateReconnecting and
// StateConnected for each outage, and StateClosed once. On each new
// connection the client gets a new ClientID, and every subscription is
// sent again, before anything buffered, with the same handlers. For a
// topic without wildcards the resubscribe asks for the messages missed
// since the last seq received: the server replays them, exactly once and in
// order, when it still has them in the same epoch (its history: by default
// the last 100 messages of at most 5 minutes); otherwise delivery resumes
// live, and a *RecoveryError (matching ErrNotRecovered, with the reason)
// reaches the subscription's WithGapHandler and OnError so that the
// application can resynchronize. This holds whatever ended the connection,
// a slow-consumer close (4001) included. Subscription.Position and
// WithSince resume from a saved position.
//
// A Publish (or PublishIfSeq) already written to a lost connection and
// waiting for its ack is sent again on the next connection, with the same
// id, ahead of anything published later; the client names itself with a
// random instance in hello, and the server stores a publish once per
// (instance, id): an acknowledged Publish is stored exactly once. With
// OutageFail it fails with ErrConnectionLost instead. Other calls waiting
// for their answer (Request, Reply, Send, Ping) fail with
// ErrConnectionLost: the server may have processed them, and a retried
// request could be answered twice. Subscribe keeps waiting and completes
// on the next connection. docs/delivery.md states these guarantees
// precisely.
//
// # Failover
//
// Options.URLs gives the client more servers of the same deployment (the
// nodes of a cluster); its server list is Dial's url, when not empty,
// followed by URLs, each validated at Dial (a bad one fails Dial with
// ErrInvalidURL before anything is dialled), normalized, duplicates
// dropped:
//
//	c, err := client.Dial(ctx, "", client.Options{Name: "svc",
//		URLs: []string{"wss://a.example.com/ws", "wss://b.example.com/ws"}})
//
// Dial tries the URLs once each, in the order given, without waiting in
// between, and keeps the first that connects. A failure moves on to the
// next URL, except a refusal that would also stop a reconnect (hello
// refused with unauthorized, forbidden or bad_request, HTTP 401 or 403, a
// terminal close code), which fails Dial at once: the nodes share their
// configuration. When every URL fails, the error lists each URL with its
// error, and errors.Is and errors.As see all of them. The order is the
// caller's: a client always starts with the first URL, so shuffle the list
// (rand.Shuffle) to spread clients over the nodes.
//
// A lost connection is replaced by going round the list from the URL after
// the lost one: with URLs a, b, c and the connection to a lost, attempts go
// to b, c, a, b, c, a, … Attempts come in rounds of one per URL. Before
// round r (0 for the first after the loss) the client waits the backoff of
// attempt r above, a random time in [0, min(MaxBackoff, MinBackoff·2ʳ)];
// within a round, a failed attempt is followed at once by the next URL. So
// a dead node costs one refused dial, not a backoff, while a whole cluster
// down backs off exponentially, per round. RateLimitBackoff is added
// before the next round when the lost connection was closed with 4429 or
// an attempt of the round that failed was refused with 429.
// MaxReconnectAttempts counts rounds. With a single URL a round is one
// attempt, which is the behaviour described above.
//
// Client.URL tells the URL of the current connection (the last one between
// connections); read it in OnState(StateConnected) to see where the client
// went. Everything else is as after any reconnect: a new ClientID, every
// subscription made again before anything buffered, unacknowledged
// publishes sent again with their ids, buffered calls sent, a fresh token
// from TokenFunc. Two differences follow from the servers being others:
// independent nodes number their topics separately (their own epochs), so
// a resubscribe with since is answered recovered:false and the gap is
// reported as a *RecoveryError, as after a server restart without storage;
// and publishes are de-duplicated by the server that receives them, so a
// publish that reached the lost node, whose ack was lost with it, and that
// is sent again to another node is stored exactly once only when the nodes
// share their de-duplication state; between independent nodes it may be
// stored twice (at least once). The nodes of a cluster over NATS
// (docs/cluster.md) share both: there a client recovers on the next node
// with no gap and no duplicate, and a resent publish is stored once.
//
// # Presence
//
// Client.Presence lists the clients of the session subscribed to a topic;
// Subscribe with WithPresence(fn) also delivers PresenceEvents (join,
// leave — including clients that vanished, once the server noticed: at
// once for a reset connection, within its heartbeat timeout for a silent
// one) to fn on the handler goroutine, in order with messages.
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
// # End-to-end encryption
//
// With Options.E2E the client seals every payload it sends and opens every
// payload it receives with the seal package, so that the server routes
// ciphertext it cannot read (docs/e2e.md has the threat model):
//
//	c, err := client.Dial(ctx, url, client.Options{Name: "alice", SessionID: "room-7",
//		E2E: &client.E2E{Passphrase: passphrase}})
//	if errors.Is(err, seal.ErrWrongKey) { … ask for the passphrase again … }
//
// Joining. Before Dial returns, the client subscribes to the session's
// public parameters ($meta.e2e, seal.ParamsTopic). When the session has
// none yet (the subscribe ack's seq is 0), it creates them (seal.NewParams,
// or NewSecretParams with E2E.Secret; signed with E2E.Signed) and publishes
// them with if_seq 0; a client that loses that race with conflict takes the
// winner's value. It derives the root key — Argon2id costs about 0.25 s
// natively and 0.6 s in a browser, once per Dial, and the root is cached
// for reconnects — and checks it against the parameters' key check. A
// wrong passphrase or secret, or a passphrase for a session keyed by a
// secret and the reverse, fails Dial with an error matching
// seal.ErrWrongKey; parameters below seal's floor fail it with
// seal.ErrWeakParams. All of it within ConnectTimeout.
//
// Sending. Publish, PublishAsync, PublishWithTimestamp, Request, Reply,
// Respond and Send seal the JSON encoding of the payload for its topic
// under the client's name (both are bound into the ciphertext) and send the
// JSON string "e2e:…". A reply has no topic on the wire: it is sealed with
// its request's topic, which Message.Reply and Message.Respond know and
// Client.Reply looks up among the requests the client received
// (ErrUnknownRequest otherwise). Payloads on $meta. topics are never
// sealed: they are public metadata.
//
// Receiving. A sealed payload is opened on the handler goroutine before
// any handler runs: Message.Payload becomes the plaintext JSON and
// Message.Encrypted is true. A payload that fails to open — moved to
// another topic, relabelled with another publisher, edited, replayed,
// outside the 5-minute time window, of an unknown epoch, signed by a key
// that is unknown, changed or pinned to another name, or unsigned in a
// signed session — goes to OnError as an *OpenError wrapping the seal
// sentinel, and no handler sees it; Request returns the *OpenError of a
// response (and OnError gets it too). Plaintext payloads are delivered
// with Encrypted false, or dropped and reported (ErrPlaintext) with
// E2E.RejectPlaintext. Messages that arrive before the parameters are
// known are held and delivered, in order, once they are. A client without
// E2E delivers sealed payloads untouched, as the ciphertext strings.
//
// Signed mode (the session's mode wins over E2E.Signed). The client
// publishes a seal.Announcement of its key as the retained value of
// seal.KeysTopic(its key id) before Dial returns. A message signed by a
// key the client has not pinned makes it fetch that key's announcement
// (subscribe, take the retained value, unsubscribe), verify it for the
// message's publisher_name, pin it in the KeyRing (trust on first use) and
// open the message again. The fetch runs on the handler goroutine, bounded
// by CallTimeout, so handlers keep their order but wait for it. A name that
// presents another key is reported with seal.ErrKeyChanged and its
// messages are dropped until the application calls KeyRing.Replace.
//
// Rotation and reconnects. A new value of $meta.e2e that is a valid
// successor (seal.Params.CheckSuccessor: higher epoch, no downgrade) and
// whose key check the client's passphrase or secret matches switches the
// client to new keys, in order with the messages around it; envelopes
// sealed under the previous keys and still in flight open with those. An
// older epoch, a downgrade or a key check that does not match is reported
// to OnError and ignored. The client keeps its seal.Session across
// reconnects (sequence numbers and replay state carry over). When a
// resubscribe finds $meta.e2e empty — a server restarted without durable
// storage — the client publishes its parameters again with if_seq 0 (and
// renews its key announcement), so the session keeps its key. If a
// newcomer created parameters first (it joined after the restart, before
// any member was back), the members find a value of the same epoch whose
// key check matches their passphrase or secret and that weakens nothing:
// they adopt it, and the session converges on the retained value. Recent
// sessions are reused when their parameters come back, so a relay that
// alternates between two such values cannot reset the replay window.
//
// Costs and limits. A sealed payload is the plaintext plus 78 bytes (142
// signed), times 4/3 for base64url, against the server's max_frame_bytes.
// Opening runs on the handler goroutine. The client holds one subscription
// ($meta.e2e) for its life and one more during each key fetch, counted
// against the server's limit per connection. Messages recovered from
// history older than 5 minutes fail to open (seal.ErrStale). Without E2E
// the plaintext path is unchanged and allocates nothing more.
//
// # Authentication and TLS
//
// Options.Token is sent in every hello. Options.TokenFunc instead fetches a
// token before each connection attempt and replaces it on the open
// connection (a refresh object) when a quarter of its life remains, read
// from the JWT's exp claim; if it expires anyway, the server closes with
// 4401 and the client reconnects with a new token (a fresh token refused at
// hello is final). Options.TLSConfig sets the TLS configuration of wss://
// handshakes, for example a private CA (native only).
//
// # Service clients
//
// A backend connected with a service token (a JWT with "service": true,
// e.g. from switchboard token --service) works across sessions: Subscribe
// with WithAllSessions subscribes in every session, present and future,
// and each Message carries the SessionID it was published in; PublishTo
// publishes into a chosen session; Message.Reply and Message.Respond answer
// a request in the session it came from. The token's topics still apply;
// Request, Send and Presence stay in the client's own session. Without a
// service token the server refuses these calls with forbidden. An
// all-sessions subscription is re-established after a reconnect like any
// other, without recovery of missed messages.
//
// A service holds no keys of the sessions it serves: with end-to-end
// encryption their sealed payloads reach it untouched (the "e2e:…"
// strings, Encrypted false), and what it sends into another session is not
// sealed. Options.E2E applies to its own session only.
//
// # WebAssembly
//
// Under GOOS=js GOARCH=wasm the client uses the JavaScript environment's
// WebSocket (browsers, Node 22+, Node 20 with --experimental-websocket)
// through github.com/hack-pad/safejs, without net/http, which keeps the
// binary small. There:
//
//   - Options.Header, Options.Compression and Options.TLSConfig have no
//     effect: browsers do not let scripts set handshake headers (use Token or
//     TokenFunc, or a query parameter), negotiate compression themselves and
//     use their own TLS settings.
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
