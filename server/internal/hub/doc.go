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
// monitors) are never held together with another lock. lockSession takes shard.mu only to find the session and releases it
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
// A session is removed as soon as it has no members, topics, patterns or
// requests. A topic without subscribers keeps its seq and epoch for
// Options.StreamTTL (5 min) after its last use and is then forgotten (it
// restarts at seq 1 under a new epoch); retained $meta. values outlive the
// last client of their session by Options.RetainTTL (24 h). Hub.Sweep applies
// these TTLs; the server calls it periodically.
package hub
