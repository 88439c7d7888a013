// Package hub is Switchboard's in-memory routing core: sessions, topic
// subscriptions (wildcard patterns included), per-topic sequence numbers and
// epochs, retained $meta. values with compare-and-set, request/reply
// bookkeeping, direct sends, the operator's privileged operations, and one
// bounded outgoing queue per connection. It imports protocol and the
// standard library only: it knows nothing of HTTP or WebSocket. A transport
// (the server's WebSocket endpoint) feeds it decoded objects through
// Hub.Handle and writes what a Conn's queue yields.
//
// # Structure
//
// The routing table is keyed by session first, then topic: Hub → 64 shards
// (by FNV-1a of the session id, each with its own RWMutex) → session (its own
// Mutex) → members, streams (one per topic: seq, epoch, exact subscribers,
// retained value), wildcard subscriptions grouped by pattern, and pending
// requests. Every client operation starts from the client's own session, so
// no code path can match, reply or send across sessions; only the operator
// operations (PublishToSession, SendToClient, Broadcast, Disconnect, Clients,
// Sessions) reach other sessions. A second sharded index maps client ids to
// connections for the operator operations.
//
// # Connection lifecycle
//
// NewConn gives a connection its unique client id and queue; Register joins
// it to a session, queueing its welcome atomically with joining so that
// nothing overtakes the welcome; Handle serves each decoded object from it
// (answers and errors are queued to it); Unregister removes it and all its
// state. Register and Unregister belong to the connection's owner (the
// transport's reader goroutine).
//
// # Fan-out
//
// A publish is encoded once (protocol.AppendMessage) and the same immutable
// bytes are queued to every subscriber: no per-subscriber allocation.
// Fan-out happens with the session's lock held, which is what keeps each
// topic's messages in seq order on every connection; other sessions are not
// affected. A connection subscribed through several overlapping patterns gets
// a message once. A publisher with echo off does not get its own publishes.
//
// # Queues and writers
//
// Conn.Enqueue never blocks. A queue that would exceed Options.QueueBytes
// (default 4 MiB) closes its connection as a slow consumer (close code 4001,
// through ConnConfig.OnClose); the publisher is never slowed. A writer takes
// everything queued at once (Conn.Next blocks, Conn.TryNext does not): the
// objects joined by '\n' up to protocol.MaxBatchBytes (256 KiB), or one larger
// object alone, to be written as one WebSocket frame. A single queued object
// is handed over as is, without a copy; several are joined into a pooled
// buffer that Batch.Release returns. With ConnConfig.Wake the hub asks the
// transport to start a writer only when there is something to write, so an
// idle connection holds no writer goroutine and no buffer.
//
// # History, recovery, de-duplication, presence (delivery.go, history.go)
//
// Each stream has a History from Options.Store (MemoryStore, or a durable
// store such as server/internal/store/bolt, restored by Load): a ring of the
// latest entries — the message's encoded bytes, shared with the queues, and
// its seq, time, publisher instance and id — bounded per topic pattern
// (Options.History: default 100 messages, 5 minutes) and all together by
// Options.HistoryBytes (sessions reserve it in 64 KiB chunks, so the
// publish path touches no shared counter). A publish appends to the
// history, fans out, and acknowledges once the history says it is stored
// (at once in memory; from the store's writer when durable). A subscribe
// with since snapshots the history, queues the ack and the replay and
// registers the subscription under the session lock, so the replay is
// followed by live messages with no gap and no duplicate; it answers
// recovered:false with a reason when it cannot. Publishes with an id from a
// connection with an instance (Conn.SetInstance) are remembered per
// (session, instance) for Options.DedupWindow and Options.DedupIDs: a
// retry is acknowledged again and not stored twice. Presence: subscribers
// of a topic (exact subscriptions) are listed on demand, and join and
// leave events go to those that asked, from attach and detach — so also
// when Unregister removes a connection that went away. docs/delivery.md
// states the guarantees and names the tests that prove them.
//
// # Permissions and service connections (security.go)
//
// A Conn carries Permissions (Conn.SetPermissions before Register,
// Hub.UpdatePermissions after, which drops the subscriptions no longer
// allowed): the topic patterns it may publish on and subscribe within
// (Covers decides whether an allowed pattern covers a subscription
// pattern), and the service role. A service connection may subscribe with
// all_sessions — such subscriptions live in a hub-wide list, published
// copy-on-write as an immutable snapshot that fan-out reads with one atomic
// load (none while there are no services) — and may publish or reply into
// another session by its session_id (lockTarget). This is the only path
// across sessions besides the operator's; everything else starts from the
// connection's own session.
//
// # Metrics (metrics.go)
//
// Fan-out sizes and request latencies are counted per session under the
// session lock (plain increments), folded into per-shard totals when a
// session is removed; slow consumers and the objects their queues lost are
// counted on that rare path. Hub.Metrics sums them on demand.
//
// # Monitoring
//
// Hub.Monitor opens a tap on the messages going through the hub (publishes,
// requests, sends and broadcasts of every session), for dashboards. While
// no monitor is open it costs one atomic load per message. Each monitor
// admits at most MonitorOptions.Rate events per second (a lock-free GCRA:
// over the rate it only reads shared state, and skips are counted per
// session shard so that publishers of different sessions do not contend);
// an admitted event is built once, with a copy of the payload's first
// MonitorPreviewBytes, and offered to the monitor's bounded channel without
// blocking: when it is full the event is dropped and counted. Events are
// offered with the session lock held, so each topic's events arrive in seq
// order. Hub.Stats sums the connections' traffic counters (closed
// connections' counters are kept per client shard, so totals never
// decrease).
//
// # Concurrency and lock order
//
// All exported methods are safe for concurrent use. Locks are taken in this
// order, never the reverse:
//
//	shard.mu → session.mu → Conn.mu
//
// clientShard.mu (the client id index) and Hub.monMu (changes to the list of
// monitors) are never held together with another lock. Hub.sec.svcMu (the
// all-sessions subscriptions) is taken after session.mu, never before. lockSession takes shard.mu only to find the session and releases it
// before taking session.mu; removing an empty session takes shard.mu then
// session.mu and marks it dead, and lockSession retries on a dead session.
// session.mu guards the session's tables and the session fields of its
// connections (subscriptions, pending requests); Conn.mu guards only the
// queue. No lock is held while a transport writes to a socket.
// ConnConfig.Wake and ConnConfig.OnClose run with locks held and must not
// block nor call back into the hub. Request timeouts run on time.AfterFunc
// timers; Unregister and Close stop them.
//
// # Limits and lifetime
//
// At most Options.MaxSubscriptions (100) subscriptions and
// Options.MaxPendingRequests (1000) pending requests per connection
// (too_large). Request timeouts default to 5 s and are clamped to 60 s.
// A session is removed as soon as it has no members, topics, patterns,
// requests or remembered publish ids. A topic without subscribers keeps its
// seq, epoch and history while its history holds messages, and
// Options.StreamTTL (5 min) after its last use; it is then forgotten (it
// restarts at seq 1 under a new epoch); retained $meta. values outlive the
// last client of their session by Options.RetainTTL (24 h). Hub.Sweep applies
// these TTLs and the histories' age limits; the server calls it
// periodically.
package hub
