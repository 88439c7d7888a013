package client

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Client is a connection to a Switchboard server that survives reconnects.
// All methods are safe for concurrent use. Create one with Dial and release
// it with Close.
//
// Lock order: Client.mu before dispatcher.mu; e2eState.mu is a leaf. No lock
// is held while a user callback runs or while the network is read or
// written.
type Client struct {
	opts Options
	urls []string // the servers, normalized (failover.go); never empty
	log  Logger

	ctx    context.Context // the client's lifetime: cancelled when it closes
	cancel context.CancelFunc
	wg     sync.WaitGroup // the connection goroutine and the writers
	disp   *dispatcher
	done   chan struct{} // closed on reaching StateClosed
	e2e    *e2eState     // nil without Options.E2E: the plaintext path is untouched

	nextID   atomic.Uint64
	instance string // sent in hello: the server de-duplicates retried publishes by it (delivery.go)

	mu        sync.Mutex
	state     State
	cn        *conn // the current connection; nil between connections
	cur       int   // index in urls of the current or last connection
	closed    bool
	err       error // why the client closed; nil after Close
	clientID  string
	sessionID string
	maxFrame  int
	subs      map[string]*subEntry // wire subscriptions by pattern
	handlers  []*Subscription      // copy on write, in registration order
	extras    []*Subscription      // copy on write: without a message handler, with presence or gap handlers
	pending   map[string]*call     // acknowledged calls by id
	out       outbox
	outSig    chan struct{} // cap 1: the outbox has work for the writer
	space     chan struct{} // closed and replaced when the outbox shrinks
	compat    map[string]*Subscription
}

// conn is one WebSocket connection and its writer goroutine.
type conn struct {
	tr        transport
	heartbeat time.Duration
	lastRead  atomic.Int64 // unix nanoseconds of the last frame received
	stop      chan struct{}
	stopOnce  sync.Once
	writerErr atomic.Pointer[error]
	writerEnd chan struct{}
	token     string // the token its hello carried (auth.go refreshes it)
}

func (cn *conn) halt() { cn.stopOnce.Do(func() { close(cn.stop) }) }

// call is an acknowledged object waiting for its answer.
type call struct {
	id     string
	done   chan struct{} // closed when answered; nil for subscription calls
	answer *protocol.Frame
	err    error
	queued bool      // still in the outbox
	sent   bool      // handed to a connection
	retry  []byte    // a publish sent again after a reconnect, with the same id (delivery.go)
	n      uint64    // the id's number: the order calls were made in
	sub    *subEntry // a subscribe: the answer updates the entry
	unsub  bool      // an unsubscribe: the answer is not awaited
}

// Dial connects to a Switchboard server at url (ws://, wss://, or http(s)://
// taken as ws(s)://; an empty path means /ws), offers the subprotocol
// switchboard.v1, sends hello and waits for welcome. The first connection is
// not retried: Dial returns its error, a *protocol.Error when the server
// refused hello, a *CloseError when it closed the connection. ctx bounds
// Dial only; Options.ConnectTimeout bounds each attempt.
//
// With Options.URLs the client has several servers, url first (url may
// then be empty): Dial tries each once, in order, and returns the first
// connection that succeeds, or the error of every URL tried; later
// reconnects fail over among them (see "Failover" in the package
// documentation). Every URL is validated before anything is dialled.
//
// With Options.E2E, Dial also joins the session's end-to-end parameters
// before it returns (creating them when the session has none), within
// ConnectTimeout more: a wrong passphrase or secret fails with an error
// matching seal.ErrWrongKey.
func Dial(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, wrap("dial", err)
	}
	urls, err := serverURLs(rawURL, o.URLs)
	if err != nil {
		return nil, wrap("dial", err)
	}
	c := &Client{
		opts:     o,
		urls:     urls,
		log:      o.Logger,
		done:     make(chan struct{}),
		maxFrame: protocol.DefaultMaxFrameBytes,
		subs:     make(map[string]*subEntry),
		pending:  make(map[string]*call),
		outSig:   make(chan struct{}, 1),
		space:    make(chan struct{}),
		instance: newInstance(),
	}
	if o.E2E != nil {
		if c.e2e, err = newE2EState(c, o.E2E); err != nil {
			return nil, wrap("dial", err)
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.disp = newDispatcher(c, o.DispatchQueueSize)
	c.disp.start()
	c.disp.pushState(StateConnecting)

	cn, w, rest, idx, err := c.dialFirst(ctx) // failover.go
	if err != nil {
		c.mu.Lock()
		c.terminateLocked(err)
		c.mu.Unlock()
		c.finish()
		c.disp.wait()
		return nil, err
	}
	c.mu.Lock()
	c.cur = idx
	c.installLocked(cn, w)
	c.mu.Unlock()
	c.wg.Add(1)
	go c.run(cn, rest)
	if c.e2e != nil {
		jctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
		err := c.e2e.join(jctx)
		cancel()
		if err != nil {
			c.Close()
			return nil, wrap("dial "+c.urls[idx], err)
		}
	}
	return c, nil
}

// isClosed reports whether the client closed.
func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// ClientID returns the server-assigned id of the current connection. It
// changes on every reconnect (peers that Send to this client must learn the
// new one); between connections it is the last one.
func (c *Client) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}

// SessionID returns the session the client joined, as the server confirmed
// it in welcome.
func (c *Client) SessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// Name returns the client's name.
func (c *Client) Name() string { return c.opts.Name }

// State returns the current connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Done returns a channel that is closed when the client reaches StateClosed:
// after Close, or when the server closed the connection with a terminal
// code, or when reconnecting gave up.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client closed by itself (a *CloseError with a
// terminal code, a *protocol.Error such as unauthorized from a reconnect,
// or ErrReconnectFailed), or nil while it runs and after Close.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection with 1000 (normal closure), stops
// reconnecting, fails waiting calls with ErrClosed, discards messages not
// yet handed to handlers, calls OnState(StateClosed), and waits for the
// client's goroutines to end, except the handler goroutine when Close is
// called from a handler. Close is idempotent and always returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	var cn *conn
	if !c.closed {
		c.closed = true
		c.setStateLocked(StateClosed)
		c.failAllLocked(ErrClosed)
		cn = c.cn
		c.disp.discardMessages()
	}
	c.mu.Unlock()
	c.cancel()
	if cn != nil {
		_ = cn.tr.Close(int(protocol.CloseNormal), "")
		cn.halt()
	}
	c.wg.Wait()
	if goid() != c.disp.gid.Load() {
		c.disp.wait()
	}
	return nil
}

// setStateLocked records s and queues the OnState callback in order.
func (c *Client) setStateLocked(s State) {
	if c.state == s {
		return
	}
	c.state = s
	c.disp.pushState(s)
}

// closedErrLocked is the error for calls made after the client closed.
func (c *Client) closedErrLocked() error {
	if c.err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, c.err)
	}
	return ErrClosed
}

// failAllLocked ends every waiting call and subscribe with err and empties
// the outbox.
func (c *Client) failAllLocked(err error) {
	c.out.reset()
	c.signalSpaceLocked()
	for id, cl := range c.pending {
		delete(c.pending, id)
		if cl.done != nil {
			cl.err = err
			close(cl.done)
		}
	}
	for _, e := range c.subs {
		e.settle(err)
	}
}

// newID returns a fresh object id, unique for the client's life.
func (c *Client) newID() string {
	return strconv.FormatUint(c.nextID.Add(1), 36)
}

// connect dials url, sends hello and waits for welcome. It returns the
// objects that followed welcome in its frame, to be handled once the
// connection is installed.
func (c *Client) connect(ctx context.Context, url string) (*conn, *protocol.Frame, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
	defer cancel()
	token, err := c.token(ctx) // auth.go: Token, or a fresh one from TokenFunc
	if err != nil {
		return nil, nil, nil, err
	}
	tr, err := dialTransport(ctx, url, &c.opts)
	if err != nil {
		return nil, nil, nil, err
	}
	hello := appendObject(nil, &protocol.Frame{
		Type:      protocol.TypeHello,
		Name:      c.opts.Name,
		SessionID: c.opts.SessionID,
		Token:     token,
		Protocol:  protocol.Version,
		Echo:      c.opts.Echo,
		Instance:  c.instance,
	})
	if err := tr.Write(ctx, hello); err != nil {
		tr.Abort()
		return nil, nil, nil, err
	}
	for {
		data, err := tr.Read(ctx)
		if err != nil {
			tr.Abort()
			return nil, nil, nil, err
		}
		var w *protocol.Frame
		var rest []byte
		serr := protocol.Split(data, func(obj []byte) error {
			if w != nil {
				rest = append(append(rest, obj...), '\n')
				return nil
			}
			var f protocol.Frame
			if err := protocol.Decode(obj, &f); err != nil {
				return fmt.Errorf("before welcome: %w", err)
			}
			switch f.Type {
			case protocol.TypeWelcome:
				w = &f
			case protocol.TypeError:
				return f.Err()
			}
			return nil // anything else before welcome is ignored
		})
		if serr != nil {
			_ = tr.Close(int(protocol.CloseNormal), "")
			return nil, nil, nil, serr
		}
		if w != nil {
			hb := time.Duration(w.HeartbeatMS) * time.Millisecond
			if hb <= 0 {
				hb = protocol.DefaultHeartbeat
			}
			cn := &conn{tr: tr, heartbeat: hb, stop: make(chan struct{}), writerEnd: make(chan struct{}), token: token}
			cn.lastRead.Store(time.Now().UnixNano())
			limit := c.opts.ReadLimit
			if w.MaxFrameBytes > 0 {
				limit = max(limit, w.MaxFrameBytes+64<<10)
			}
			tr.SetReadLimit(limit)
			return cn, w, rest, nil
		}
	}
}

// installLocked makes cn the current connection, queues a subscribe for
// every subscription ahead of anything buffered, and starts its writer.
func (c *Client) installLocked(cn *conn, w *protocol.Frame) {
	c.cn = cn
	c.clientID = w.ClientID
	c.sessionID = w.SessionID
	if c.sessionID == "" {
		c.sessionID = c.opts.SessionID
	}
	c.maxFrame = protocol.DefaultMaxFrameBytes
	if w.MaxFrameBytes > 0 {
		c.maxFrame = int(w.MaxFrameBytes)
	}
	patterns := make([]string, 0, len(c.subs))
	for p := range c.subs {
		patterns = append(patterns, p)
	}
	slices.Sort(patterns)
	front := make([]outItem, 0, len(patterns))
	for _, p := range patterns {
		front = append(front, c.subscribeItemLocked(c.subs[p], true))
	}
	c.out.prepend(front)
	c.setStateLocked(StateConnected)
	c.wg.Add(1)
	go c.writer(cn)
	c.startRefreshLocked(cn) // auth.go
	c.signalWriterLocked()
}

// run owns the connection: it reads the current one, and when it is lost
// either reconnects (with backoff) or closes the client.
func (c *Client) run(cn *conn, rest []byte) {
	defer c.wg.Done()
	for {
		err := c.serve(cn, rest)
		rest = nil
		c.mu.Lock()
		if c.closed {
			c.cn = nil
			c.mu.Unlock()
			c.finish()
			return
		}
		c.lostLocked()
		retry, long := reconnectPolicy(err)
		retry = retry || c.renewable(err) // auth.go: an expired token is replaced
		if !retry || c.opts.DisableReconnect {
			c.terminateLocked(err)
			c.mu.Unlock()
			c.finish()
			return
		}
		c.setStateLocked(StateReconnecting)
		c.mu.Unlock()
		c.log.Info("switchboard: connection lost, reconnecting", "err", err)
		c.reportError(wrap("connection lost", err))

		cn, rest, err = c.reconnect(long)
		if cn == nil {
			c.mu.Lock()
			if !c.closed {
				c.terminateLocked(err)
			}
			c.mu.Unlock()
			c.finish()
			return
		}
	}
}

// reconnect dials with backoff until it succeeds, the client closes, a
// server refuses for good, or MaxReconnectAttempts rounds have failed. It
// goes round the URLs from the one after the lost connection's (attempt in
// failover.go); with one URL, a round is one attempt. long adds the
// rate-limit backoff before the next round: after a 4429 close, or when an
// attempt of the round that failed was refused with 429. The new
// connection is installed when it returns one.
func (c *Client) reconnect(long bool) (*conn, []byte, error) {
	c.mu.Lock()
	last := c.cur
	c.mu.Unlock()
	n := len(c.urls)
	var lastErr error
	for k := 0; ; k++ {
		if m := c.opts.MaxReconnectAttempts; m > 0 && k >= m*n {
			return nil, nil, fmt.Errorf("%w after %d attempts: %w", ErrReconnectFailed, k, lastErr)
		}
		idx, d := c.attempt(last, k, long)
		if k%n == 0 {
			long = false // the next round's: set again by a 429 in this one
		}
		if d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-c.ctx.Done():
				timer.Stop()
				return nil, nil, nil
			case <-timer.C:
			}
		}
		if c.ctx.Err() != nil {
			return nil, nil, nil
		}
		url := c.urls[idx]
		cn, w, rest, err := c.connect(c.ctx, url)
		if err != nil {
			if c.ctx.Err() != nil {
				return nil, nil, nil
			}
			lastErr = err
			retry, l := reconnectPolicy(err)
			long = long || l
			c.log.Debug("switchboard: reconnect attempt failed", "attempt", k+1, "url", url, "err", err)
			if !retry {
				return nil, nil, err
			}
			continue
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			_ = cn.tr.Close(int(protocol.CloseNormal), "")
			return nil, nil, nil
		}
		c.cur = idx
		c.installLocked(cn, w)
		c.mu.Unlock()
		c.log.Info("switchboard: reconnected", "client_id", w.ClientID, "url", url, "attempts", k+1)
		return cn, rest, nil
	}
}

// lostLocked forgets the current connection: calls written to it fail with
// ErrConnectionLost, subscription objects are dropped (they are sent again
// on the next connection), and with OutageFail everything unsent is dropped.
func (c *Client) lostLocked() {
	c.cn = nil
	var retry []outItem
	for _, cl := range c.pending {
		switch {
		case cl.sub != nil || cl.unsub:
			delete(c.pending, cl.id)
		case cl.sent && cl.retry != nil && c.opts.Outage == OutageBuffer:
			// A publish with an id: sent again on the next connection, and
			// stored once (the server de-duplicates by instance and id).
			cl.sent, cl.queued = false, true
			retry = append(retry, outItem{data: cl.retry, call: cl})
		case cl.sent:
			c.resolveLocked(cl, nil, ErrConnectionLost)
		}
	}
	c.out.filter(func(it *outItem) bool {
		if it.control {
			return false
		}
		if c.opts.Outage == OutageFail {
			if it.call != nil {
				it.call.queued = false
				c.resolveLocked(it.call, nil, ErrConnectionLost)
			}
			return false
		}
		return true
	})
	// Ahead of what was queued later, in the order they were made.
	slices.SortFunc(retry, func(a, b outItem) int { return cmp.Compare(a.call.n, b.call.n) })
	c.out.prepend(retry)
	c.signalSpaceLocked()
}

// terminateLocked closes the client because of err (not by Close).
func (c *Client) terminateLocked(err error) {
	c.closed = true
	c.err = err
	c.setStateLocked(StateClosed)
	c.failAllLocked(c.closedErrLocked())
	c.disp.pushError(wrap("closed", err))
	c.log.Info("switchboard: client closed", "err", err)
}

// finish ends the client's life once the connection goroutine is done with
// the network: it runs on the connection goroutine as its last act.
func (c *Client) finish() {
	c.cancel()
	c.disp.finish()
	close(c.done)
}

// serve reads cn until it ends and returns why. The writer and the
// heartbeat end a connection by aborting its transport, which ends the read.
func (c *Client) serve(cn *conn, rest []byte) error {
	defer func() {
		cn.halt()
		cn.tr.Abort()
		<-cn.writerEnd
	}()
	if len(rest) > 0 {
		c.handleFrame(rest)
	}
	for {
		data, err := cn.tr.Read(context.Background())
		if err != nil {
			if werr := cn.writerErr.Load(); werr != nil {
				return *werr
			}
			return err
		}
		cn.lastRead.Store(time.Now().UnixNano())
		c.handleFrame(data)
	}
}

// writer sends what the outbox holds for cn, joining queued objects into
// frames of at most the server's max_frame_bytes, and keeps the connection
// alive: after a heartbeat interval without anything received it sends a
// ping object; after two it gives the connection up.
func (c *Client) writer(cn *conn) {
	defer c.wg.Done()
	defer close(cn.writerEnd)
	fail := func(err error) {
		cn.writerErr.Store(&err)
		cn.halt()
		cn.tr.Abort()
	}
	tick := time.NewTicker(cn.heartbeat / 2)
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-cn.stop:
			return
		case <-c.outSig:
		case <-tick.C:
			idle := time.Since(time.Unix(0, cn.lastRead.Load()))
			switch {
			case idle >= 2*cn.heartbeat:
				fail(ErrHeartbeatTimeout)
				return
			case idle >= cn.heartbeat:
				c.mu.Lock()
				if c.cn == cn {
					c.out.push(outItem{data: []byte(`{"type":"ping"}`), control: true})
				}
				c.mu.Unlock()
			}
		}
		for {
			c.mu.Lock()
			buf = c.takeBatchLocked(cn, buf[:0])
			maxFrame := c.maxFrame
			c.mu.Unlock()
			if len(buf) == 0 {
				break
			}
			if err := cn.tr.Write(context.Background(), buf); err != nil {
				fail(err)
				return
			}
			if cap(buf) > 4*maxFrame {
				buf = nil // do not keep a large buffer after a large object
			}
		}
	}
}

// takeBatchLocked moves the head of the outbox into buf, up to the server's
// max_frame_bytes per frame (a single object may be larger), and marks the
// calls among them as sent on cn.
func (c *Client) takeBatchLocked(cn *conn, buf []byte) []byte {
	if c.cn != cn {
		return buf
	}
	took := false
	for c.out.len() > 0 {
		it := c.out.front()
		if len(buf) > 0 && len(buf)+1+len(it.data) > c.maxFrame {
			break
		}
		if len(buf) > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, it.data...)
		if it.call != nil {
			it.call.queued = false
			it.call.sent = true
		}
		c.out.pop()
		took = true
	}
	if took {
		c.signalSpaceLocked()
	}
	return buf
}

func (c *Client) signalWriterLocked() {
	select {
	case c.outSig <- struct{}{}:
	default:
	}
}

func (c *Client) signalSpaceLocked() {
	close(c.space)
	c.space = make(chan struct{})
}

// handleFrame handles the objects of one frame from the server.
func (c *Client) handleFrame(data []byte) {
	_ = protocol.Split(data, func(obj []byte) error {
		f := new(protocol.Frame)
		if err := protocol.Decode(obj, f); err != nil {
			c.log.Debug("switchboard: undecodable object from server", "err", err)
			return nil
		}
		switch f.Type {
		case protocol.TypeMessage:
			c.handleMessage(f)
		case protocol.TypeAck, protocol.TypePong, protocol.TypeResponse, protocol.TypePresence:
			c.answer(f.ID, f, nil)
		case protocol.TypePresenceEvent:
			c.handlePresenceEvent(f)
		case protocol.TypeError:
			perr := f.Err()
			if f.ID == "" || !c.answer(f.ID, nil, perr) {
				c.reportError(perr)
			}
		default:
			// Unknown types are ignored: the protocol may add some.
		}
		return nil
	})
}

// answer resolves the call waiting for id. It reports whether there was one.
func (c *Client) answer(id string, f *protocol.Frame, err error) bool {
	if id == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.pending[id]
	if cl == nil {
		return false
	}
	c.resolveLocked(cl, f, err)
	return true
}

// resolveLocked ends cl with an answer or an error.
func (c *Client) resolveLocked(cl *call, f *protocol.Frame, err error) {
	c.forgetLocked(cl)
	switch {
	case cl.sub != nil:
		c.subAnsweredLocked(cl.sub, f, err)
	case cl.done != nil:
		cl.answer, cl.err = f, err
		close(cl.done)
	}
}

// forgetLocked stops waiting for cl, and drops its object if it is still
// queued.
func (c *Client) forgetLocked(cl *call) {
	delete(c.pending, cl.id)
	if cl.queued {
		c.out.remove(cl)
		cl.queued = false
		c.signalSpaceLocked()
	}
}

// reportError hands err to OnError on the handler goroutine.
func (c *Client) reportError(err error) {
	c.log.Debug("switchboard: error", "err", err)
	c.disp.pushError(err)
}

// enqueue adds an object to the outbox, applying the outage policy, and
// registers its call. While connected and over the bounds it waits for room
// until ctx ends.
func (c *Client) enqueue(ctx context.Context, it outItem) error {
	for {
		c.mu.Lock()
		if c.closed {
			err := c.closedErrLocked()
			c.mu.Unlock()
			return err
		}
		connected := c.cn != nil
		if !connected && c.opts.Outage == OutageFail {
			c.mu.Unlock()
			return ErrNotConnected
		}
		if len(it.data) > c.maxFrame {
			c.mu.Unlock()
			return fmt.Errorf("%w (%d > %d bytes)", ErrTooLarge, len(it.data), c.maxFrame)
		}
		if c.out.fits(len(it.data), c.opts.MaxBufferedMessages, c.opts.MaxBufferedBytes) {
			c.out.push(it)
			if it.call != nil {
				it.call.queued = true
				c.pending[it.call.id] = it.call
			}
			if connected {
				c.signalWriterLocked()
			}
			c.mu.Unlock()
			return nil
		}
		if !connected {
			c.mu.Unlock()
			return ErrBufferFull
		}
		space := c.space
		c.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// roundTrip sends f with a fresh id and waits for its answer: an ack, pong
// or response frame, or the server's *protocol.Error. Without a deadline in
// ctx, Options.CallTimeout applies.
func (c *Client) roundTrip(ctx context.Context, f *protocol.Frame) (*protocol.Frame, error) {
	return c.roundTripRetry(ctx, f, false)
}

// roundTripRetry is roundTrip; with retry, an object written to a
// connection that drops before the answer is sent again on the next one
// (with OutageBuffer), instead of failing with ErrConnectionLost.
func (c *Client) roundTripRetry(ctx context.Context, f *protocol.Frame, retry bool) (*protocol.Frame, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
	}
	n := c.nextID.Add(1)
	f.ID = strconv.FormatUint(n, 36)
	cl := &call{id: f.ID, done: make(chan struct{}), n: n}
	data := appendObject(nil, f)
	if retry {
		cl.retry = data
	}
	if err := c.enqueue(ctx, outItem{data: data, call: cl}); err != nil {
		return nil, err
	}
	select {
	case <-cl.done:
		return cl.answer, cl.err
	case <-ctx.Done():
		c.mu.Lock()
		defer c.mu.Unlock()
		select {
		case <-cl.done: // answered meanwhile
			return cl.answer, cl.err
		default:
		}
		c.forgetLocked(cl)
		return nil, ctx.Err()
	}
}

// send queues f without an id: no answer is awaited.
func (c *Client) send(ctx context.Context, f *protocol.Frame) error {
	return c.enqueue(ctx, outItem{data: appendObject(nil, f)})
}
