// Package natsengine is the hub's cluster engine over NATS JetStream
// (hub.Engine): several Switchboard nodes connected to one NATS cluster
// (an existing one, or nats-server nodes embedded in the Switchboard
// processes) serve the same sessions.
//
// Every publish is stored in one JetStream stream (default name
// SWITCHBOARD, subjects <prefix>.m.>, see subject.go), whose sequence is the
// message's seq: strictly increasing per (session, topic) across the
// cluster, and not contiguous, because the stream numbers all topics
// together. JetStream's message ids de-duplicate retried publishes, and its
// expected-last-subject-sequence check is the protocol's if_seq. The stream
// republishes every stored message in its order; a node subscribes to the
// republished messages of each session it has clients in (interest: a
// session's traffic reaches only nodes with clients in it) and reads from
// the stream whatever it missed (delivery.go). Before a session's first
// client joins a node, the node reads the last message of each of the
// session's topics, so that it knows every topic's seq and retained value.
// Recovery reads the stream.
package natsengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// Config configures an Engine. Zero values mean the documented default.
type Config struct {
	// URLs of the NATS servers to connect to (any of a cluster's). Empty:
	// Embedded must be set.
	URLs []string
	// Embedded, when set, runs a nats-server node in this process and
	// connects to it (URLs are then ignored).
	Embedded *Embedded

	// Credentials and TLS, as NATS users know them: a .creds file (JWT and
	// NKey seed), a CA to verify the servers, a client certificate. User
	// and password or a token go in the URLs (nats://user:pass@host).
	CredsFile, TLSCA, TLSCert, TLSKey string

	// Prefix of every subject and the stream's name in upper case.
	// Default "switchboard" (stream SWITCHBOARD).
	Prefix string
	// Replicas of the stream (JetStream R). Default 1; 3 in a three-node
	// cluster survives the loss of one node.
	Replicas int
	// History is how many messages each (session, topic) keeps, MaxAge how
	// long. Defaults 100 and 24 hours (which is also how long a retained
	// $meta. value lives after its last publish).
	History int64
	MaxAge  time.Duration
	// DedupWindow is how long a publish id is remembered. Default 2
	// minutes.
	DedupWindow time.Duration
	// FileStorage keeps the stream on disk (in the NATS servers' store
	// directories); default memory.
	FileStorage bool
	// StartTimeout bounds how long New waits for the NATS cluster (a
	// JetStream leader) to accept the stream. Default 60 seconds.
	StartTimeout time.Duration
	// Name is the connection's name in NATS's monitoring.
	Name   string
	Logger *slog.Logger
	// Bridge, when set, joins bridged sessions' topics to plain NATS
	// subjects (bridge.go, docs/bridge.md). Default none.
	Bridge *BridgeConfig
}

// Embedded configures a nats-server node run inside the process.
type Embedded struct {
	// ServerName must be unique in the cluster. Default: generated.
	ServerName string
	// Listen is the client address, host:port; default 127.0.0.1 on a
	// free port. Other processes (a NATS CLI, services) can connect to it.
	Listen string
	// ClusterName, ClusterListen (host:port) and Routes (nats-route://
	// URLs of the other nodes' cluster addresses) make the embedded nodes
	// of several Switchboard processes one NATS cluster. Empty
	// ClusterListen: a single node.
	ClusterName   string
	ClusterListen string
	Routes        []string
	// StoreDir is JetStream's directory; default a temporary one, removed
	// at Close.
	StoreDir string
}

// Engine implements hub.Engine over NATS JetStream.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	ns     *server.Server // embedded node, or nil
	tmp    string         // StoreDir to remove at Close
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
	subj   subjects
	epoch  string
	sink   hub.Sink

	mu      sync.Mutex
	watches map[string]*watch
	closed  bool
	quit    chan struct{} // closed by Close: publishes stop trying

	node     string             // this node's id (cluster.go)
	replySub *nats.Subscription // <prefix>.r.<node>
	imu      sync.Mutex
	interest map[string]*nats.Subscription // session "\x00" pattern → requests subscription
	members  map[string]*nats.Subscription // client id → sends subscription

	admin admin // admin.go

	gapsFilled, gapsLost atomic.Uint64 // delivery.go

	br *bridge // nil: no bridge (bridge.go)
}

// watch is this node's interest in one session.
type watch struct {
	refs  int
	ready chan struct{} // closed when the snapshot has been delivered
	once  sync.Once
	err   error                    // set before ready is closed
	cc    jetstream.ConsumeContext // the snapshot's consumer, until it is done
	sub   *nats.Subscription       // the session's republished messages (delivery.go)

	dmu      sync.Mutex        // serializes deliveries; guards last
	last     map[string]uint64 // topic → seq of the latest message delivered
	catching atomic.Bool       // a catchUp runs
	catchReq atomic.Bool       // a catchUp is wanted
}

// stop ends w's subscriptions.
func (w *watch) stop() {
	if w.cc != nil {
		w.cc.Stop()
	}
	if w.sub != nil {
		w.sub.Unsubscribe()
	}
}

// Headers of a stored message: the protocol fields that are not the
// subject or the payload.
const (
	hdrPublisher = "Sb-Publisher"
	hdrTime      = "Sb-Time"
	hdrOrigin    = "Sb-Origin"
	hdrFrom      = "Sb-From"
)

// New connects (starting the embedded node first, if configured) and makes
// sure the stream exists. Close undoes it.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "switchboard"
	}
	if err := protocol.ValidateTopic(cfg.Prefix); err != nil || strings.HasPrefix(cfg.Prefix, "$") {
		return nil, fmt.Errorf("natsengine: prefix %q: want NATS tokens of [A-Za-z0-9_:-]", cfg.Prefix)
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.History <= 0 {
		cfg.History = 100
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	if cfg.DedupWindow <= 0 {
		cfg.DedupWindow = 2 * time.Minute
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Bridge != nil {
		if err := cfg.Bridge.Validate(cfg.Prefix); err != nil {
			return nil, err
		}
	}
	e := &Engine{
		cfg:      cfg,
		log:      cfg.Logger,
		name:     strings.ToUpper(strings.NewReplacer(".", "_", ":", "_", "-", "_").Replace(cfg.Prefix)),
		subj:     newSubjects(cfg.Prefix),
		watches:  make(map[string]*watch),
		node:     newNodeID(),
		interest: make(map[string]*nats.Subscription),
		members:  make(map[string]*nats.Subscription),
		quit:     make(chan struct{}),
	}
	if cfg.Bridge != nil {
		e.br = newBridge(*cfg.Bridge)
	}
	if err := e.start(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Engine) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.StartTimeout)
	defer cancel()
	urls := strings.Join(e.cfg.URLs, ",")
	if e.cfg.Embedded != nil {
		if err := e.startEmbedded(); err != nil {
			return err
		}
		urls = e.ns.ClientURL()
	}
	if urls == "" {
		return errors.New("natsengine: no NATS URL and no embedded server")
	}
	opts := []nats.Option{
		nats.Name(e.cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				e.log.Warn("nats: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			e.log.Info("nats: reconnected", "url", nc.ConnectedUrlRedacted())
			e.catchUpAll() // what was republished meanwhile is gone (delivery.go)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				e.catchUpAll() // the connection dropped messages (delivery.go)
				return
			}
			e.log.Warn("nats: asynchronous error", "err", err)
		}),
	}
	if e.cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(e.cfg.CredsFile))
	}
	if e.cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(e.cfg.TLSCA))
	}
	if e.cfg.TLSCert != "" || e.cfg.TLSKey != "" {
		opts = append(opts, nats.ClientCert(e.cfg.TLSCert, e.cfg.TLSKey))
	}
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return fmt.Errorf("natsengine: connect: %w", err)
	}
	e.nc = nc
	if e.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishAttempt)); err != nil {
		return fmt.Errorf("natsengine: %w", err)
	}
	storage := jetstream.MemoryStorage
	if e.cfg.FileStorage {
		storage = jetstream.FileStorage
	}
	sc := jetstream.StreamConfig{
		Name:              e.name,
		Description:       "Switchboard messages: " + e.subj.msgs + "<session>.<topic>",
		Subjects:          []string{e.subj.msgs + ">"},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: e.cfg.History,
		MaxAge:            e.cfg.MaxAge,
		Duplicates:        e.cfg.DedupWindow,
		Storage:           storage,
		Replicas:          e.cfg.Replicas,
		Discard:           jetstream.DiscardOld,
		AllowDirect:       true,
		// Every stored message is republished, in the stream's order, on
		// <prefix>.rp.<session>.<topic> with its seq and the seq of its
		// topic's previous message: nodes receive their sessions' messages
		// there (delivery.go).
		RePublish: &jetstream.RePublish{Source: e.subj.msgs + ">", Destination: e.cfg.Prefix + ".rp.>"},
	}
	// In a cluster that is starting, JetStream answers once it has a meta
	// leader and enough peers for the replicas: retry until then.
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		e.stream, err = e.js.CreateOrUpdateStream(actx, sc)
		acancel()
		if err == nil {
			break
		}
		e.log.Debug("waiting for JetStream", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsengine: create stream %s: %w (last: %v)", e.name, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
	created := e.stream.CachedInfo().Created
	e.epoch = "js" + strconv.FormatInt(created.UnixNano(), 36)
	return e.startCluster()
}

// Conn returns the engine's NATS connection (for the bridge and tests).
func (e *Engine) Conn() *nats.Conn { return e.nc }

// ClientURL returns the embedded node's client URL, or "".
func (e *Engine) ClientURL() string {
	if e.ns == nil {
		return ""
	}
	return e.ns.ClientURL()
}

// Start implements hub.Engine.
func (e *Engine) Start(sink hub.Sink) {
	e.sink = sink
	if e.br != nil {
		if err := e.startBridge(); err != nil {
			e.log.Error("nats bridge: not started", "err", err)
		}
	}
}

// Epoch implements hub.Engine: it changes when the stream is recreated.
func (e *Engine) Epoch() string { return e.epoch }

// Watch implements hub.Engine.
func (e *Engine) Watch(ctx context.Context, session string) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errors.New("natsengine: closed")
	}
	w := e.watches[session]
	if w == nil {
		w = &watch{ready: make(chan struct{})}
		e.watches[session] = w
		go e.consume(session, w)
	}
	w.refs++
	e.mu.Unlock()
	select {
	case <-w.ready:
		if w.err != nil {
			e.Unwatch(session)
		}
		return w.err
	case <-ctx.Done():
		e.Unwatch(session)
		return ctx.Err()
	}
}

func (e *Engine) ready(w *watch, err error) {
	w.once.Do(func() {
		w.err = err
		close(w.ready)
	})
}

// delivery builds a message from what the stream stored.
func delivery(session, topic string, seq uint64, h nats.Header, data []byte) *hub.Delivery {
	return &hub.Delivery{
		Msg: protocol.Message{
			Topic:         topic,
			Payload:       data,
			PublisherName: h.Get(hdrPublisher),
			Timestamp:     h.Get(hdrTime),
			SessionID:     session,
			Seq:           seq,
		},
		Origin: h.Get(hdrOrigin),
		From:   h.Get(hdrFrom),
	}
}

// Unwatch implements hub.Engine.
func (e *Engine) Unwatch(session string) {
	e.mu.Lock()
	w := e.watches[session]
	if w == nil {
		e.mu.Unlock()
		return
	}
	w.refs--
	if w.refs <= 0 {
		delete(e.watches, session)
		w.stop()
	}
	e.mu.Unlock()
}

// Publish implements hub.Engine. A publish stored in a bridged topic also
// goes out on the bridge (bridge.go).
func (e *Engine) Publish(m *protocol.Message, origin, from, msgID string, ifSeq *uint64, done func(uint64, bool, error)) {
	e.publish(m, origin, from, msgID, ifSeq, e.bridgeOut(m, done))
}

// publish is Publish without the bridge.
func (e *Engine) publish(m *protocol.Message, origin, from, msgID string, ifSeq *uint64, done func(uint64, bool, error)) {
	msg := &nats.Msg{
		Subject: e.subj.topic(m.SessionID, m.Topic),
		Data:    m.Payload,
		Header:  nats.Header{hdrPublisher: {m.PublisherName}, hdrTime: {m.Timestamp}},
	}
	if origin != "" {
		msg.Header[hdrOrigin] = []string{origin}
	}
	if from != "" {
		msg.Header[hdrFrom] = []string{from}
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if ifSeq != nil {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(*ifSeq))
	}
	// The first attempt is made here, so that one connection's publishes
	// reach the stream in the order it made them.
	fut, err := e.js.PublishMsgAsync(msg, opts...)
	// Too many publishes await their acks (the stream is slower than the
	// publishers): wait here, which holds back this connection's next
	// publishes, rather than drop it. Bounded like a retry.
	// (Each attempt itself waits a while for the backlog to shrink.)
	for deadline := time.Now().Add(publishRetry); errors.Is(err, jetstream.ErrTooManyStalledMsgs) &&
		time.Now().Before(deadline) && !e.closing(); {
		fut, err = e.js.PublishMsgAsync(msg, opts...)
	}
	go e.awaitAck(msg, msgID != "", fut, err, done)
}

// A publish is tried again while the stream has no leader (a node was
// lost and its replicas elect another): publishAttempt bounds the wait for
// one attempt's ack, publishRetry the time to start another, so that the
// hub answers within the clients' default call timeout (10 s).
const (
	publishAttempt = 2 * time.Second
	publishRetry   = 7 * time.Second
)

// awaitAck waits for the ack of the publish of msg whose first attempt
// Publish made (fut, or err when it could not be sent), tries again while
// retriable, and calls done once.
func (e *Engine) awaitAck(msg *nats.Msg, idempotent bool, fut jetstream.PubAckFuture, err error, done func(uint64, bool, error)) {
	deadline := time.Now().Add(publishRetry)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		if err == nil {
			select {
			case a := <-fut.Ok():
				done(a.Sequence, a.Duplicate, nil)
				return
			case err = <-fut.Err():
			case <-e.quit: // a closed connection leaves acks unanswered
				done(0, false, nats.ErrConnectionClosed)
				return
			}
		}
		if !retriable(err, idempotent) || time.Until(deadline) < wait {
			done(0, false, publishErr(err))
			return
		}
		e.log.Debug("publish: trying again", "subject", msg.Subject, "err", err)
		select {
		case <-time.After(wait):
		case <-e.quit:
			done(0, false, nats.ErrConnectionClosed)
			return
		}
		// msg's headers already hold the message id and the
		// expectations; a copy, because the library may still read msg.
		fut, err = e.js.PublishMsgAsync(&nats.Msg{Subject: msg.Subject, Data: msg.Data, Header: maps.Clone(msg.Header)})
	}
}

// retriable reports whether a failed publish attempt may be made again:
// when no stream leader received it (no responders: a leader is being
// elected), and, for an idempotent publish (with a message id, which
// JetStream stores once), when its ack did not come (the leader that got
// it may be gone; if it was stored after all, the next attempt is
// answered with its seq as a duplicate) or when a publish with its id is
// still being stored (the attempt of a lost leader, which the new one
// completes).
func retriable(err error, idempotent bool) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return true
	case errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return idempotent
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrDuplicateInProcess:
		return idempotent
	}
	return false
}

// jsErrDuplicateInProcess is JetStream's "duplicate message id is in
// process" (nats.go names no constant for it).
const jsErrDuplicateInProcess jetstream.ErrorCode = 10158

// errCodeWrongLastSequenceConstant is JetStream's wrong-last-sequence error
// without the current seq (10164), which replicated streams may answer.
const errCodeWrongLastSequenceConstant jetstream.ErrorCode = 10164

// publishErr maps JetStream's wrong-last-sequence errors to conflict.
func publishErr(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == errCodeWrongLastSequenceConstant) {
		cur := ""
		if _, after, ok := strings.Cut(apiErr.Description, "wrong last sequence: "); ok {
			cur = " " + after
		}
		return &protocol.Error{Code: protocol.CodeConflict, Message: "if_seq does not match the current seq" + cur}
	}
	return err
}

// Replay implements hub.Engine.
func (e *Engine) Replay(ctx context.Context, session, topic string, after, upTo uint64) ([]hub.Delivery, bool, error) {
	subject := e.subj.topic(session, topic)
	seen := upTo != math.MaxUint64 // upTo is a message of subject's that this node has had
	if after > 0 && seen {
		// upTo first: the replica that answers has caught up with this
		// node once it has upTo.
		if _, err := e.getMsg(ctx, upTo, "", true); errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, false, nil // gone meanwhile: so may the others be
		} else if err != nil {
			return nil, false, err
		}
	}
	if after > 0 {
		m, err := e.getMsg(ctx, after, "", false)
		if errors.Is(err, jetstream.ErrMsgNotFound) || err == nil && m.Subject != subject {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
	var out []hub.Delivery
	for seq := after + 1; seq <= upTo; {
		// With upTo seen, a next one up to it exists.
		m, err := e.getMsg(ctx, seq, subject, seen)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			if !seen { // (History: everything stored)
				break
			}
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if m.Sequence > upTo {
			break
		}
		out = append(out, *delivery(session, topic, m.Sequence, m.Header, m.Data))
		seq = m.Sequence + 1
	}
	return out, true, nil
}

// getMsg reads the stream's message seq (with subject: the next of
// subject from seq). Any replica answers: while the stream loses a node
// and elects a leader there may be none for a moment (no responders), the
// request may go to the node being lost (no answer), and a replica may lag
// behind this node (not found, although seq exists when exists is set:
// for up to replicaLag; after that, it was removed). Each is asked again,
// every attempt bounded by getAttempt, until ctx ends.
func (e *Engine) getMsg(ctx context.Context, seq uint64, subject string, exists bool) (*jetstream.RawStreamMsg, error) {
	var opts []jetstream.GetMsgOpt
	if subject != "" {
		opts = append(opts, jetstream.WithGetMsgSubject(subject))
	}
	start := time.Now()
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		actx, cancel := context.WithTimeout(ctx, getAttempt)
		m, err := e.stream.GetMsg(actx, seq, opts...)
		cancel()
		again := errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil ||
			exists && errors.Is(err, jetstream.ErrMsgNotFound) && time.Since(start) < replicaLag
		if err == nil || !again {
			return m, err
		}
		e.log.Debug("replay: trying again", "seq", seq, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natsengine: get message %d: %w (last: %w)", seq, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// getAttempt bounds one attempt of getMsg, replicaLag how long a message
// known to exist may be missing from the replica that answers.
const (
	getAttempt = 500 * time.Millisecond
	replicaLag = time.Second
)

// Close stops every consumer, the connection and the embedded node.
func (e *Engine) Close() {
	e.mu.Lock()
	if !e.closed {
		close(e.quit)
	}
	e.closed = true
	for s, w := range e.watches {
		w.stop()
		delete(e.watches, s)
	}
	e.mu.Unlock()
	e.stopBridge()
	e.stopAdmin()
	if e.nc != nil {
		e.nc.Close()
	}
	if e.ns != nil {
		e.ns.Shutdown()
		e.ns.WaitForShutdown()
	}
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
}

// Gaps reports how often this node missed republished messages and read
// them from the stream (filled), and how often some were no longer stored
// (lost: this node's subscribers missed them).
func (e *Engine) Gaps() (filled, lost uint64) { return e.gapsFilled.Load(), e.gapsLost.Load() }

// closing reports whether Close has begun.
func (e *Engine) closing() bool {
	select {
	case <-e.quit:
		return true
	default:
		return false
	}
}
