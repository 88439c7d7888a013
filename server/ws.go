package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// wsConn is one WebSocket client. Goroutines: one reader for the life of the
// connection; a writer only while there is something to write (started by
// the hub's Wake); short-lived ones for pings and for the close handshake.
// An idle connection holds its reader and nothing else: no write buffer, no
// read buffer (both come from pools per frame).
type wsConn struct {
	srv *Server
	ws  *websocket.Conn
	hc  *hub.Conn

	created    int64        // coarse clock at accept
	lastRead   atomic.Int64 // coarse clock at the last frame, ping or pong
	lastPing   atomic.Int64 // coarse clock at the last ping sent
	writeStart atomic.Int64 // coarse clock when the write in progress began, 0 if none
	closing    atomic.Bool  // a close is under way: frames are ignored
	dropped    atomic.Bool  // the TCP connection was dropped after a write timeout
	welcomed   atomic.Bool
	guard      wsGuard    // token, quotas and rate limits (ratelimit.go, auth.go)
	lat        wakeSample // queue → write latency (metrics.go)
	writeMu    sync.Mutex // held by the writer during each write; the closer waits for it

	// Reader-owned.
	frame       protocol.Frame
	violations  int
	windowStart int64
}

func (s *Server) handleWS(c echo.Context) error {
	if s.draining.Load() {
		s.metrics.countRefused(refuseShutdown)
		return apiErr(http.StatusServiceUnavailable, protocol.CodeInternal, "server shutting down")
	}
	r := c.Request()
	var query url.Values // read before Accept: the request is not ours afterwards
	if r.URL.RawQuery != "" {
		query = r.URL.Query() // not parsed (a map per connection) when there is none
	}
	wc := &wsConn{srv: s, created: s.now()}
	wc.lastRead.Store(wc.created)
	wc.lastPing.Store(wc.created)
	wc.guard.headerToken = bearerToken(r)
	if s.cfg.MaxConnsPerAddr > 0 { // ratelimit.go
		ip := remoteIP(r)
		if !s.admitAddr(ip) {
			s.metrics.countRefused(refuseAddr)
			c.Response().Header().Set("Retry-After", "30")
			return apiErr(http.StatusTooManyRequests, protocol.CodeRateLimited, "too many connections from this address")
		}
		wc.guard.addr = ip
		defer func() {
			if !wc.guard.addrHanded { // else finish releases it
				s.releaseAddr(ip)
			}
		}()
	}
	ws, err := websocket.Accept(smallBufHijacker{c.Response()}, r, &websocket.AcceptOptions{
		Subprotocols:         []string{protocol.Subprotocol},
		OriginPatterns:       s.cfg.AllowedOrigins,
		CompressionMode:      s.compressionMode(),
		CompressionThreshold: s.cfg.CompressionThreshold,
		OnPingReceived:       func(context.Context, []byte) bool { wc.lastRead.Store(s.now()); return true },
		OnPongReceived:       func(context.Context, []byte) { wc.lastRead.Store(s.now()) },
	})
	if err != nil {
		// Accept has answered (403 for a foreign Origin, 4xx for a bad handshake).
		s.metrics.countRefused(refuseUpgrade)
		s.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return nil
	}
	ws.SetReadLimit(s.cfg.MaxFrameBytes)
	wc.ws = ws
	hc, err := s.hub.NewConn(hub.ConnConfig{RemoteAddr: r.RemoteAddr, Wake: wc.wake, OnClose: wc.onClose})
	if err != nil {
		ws.Close(websocket.StatusCode(protocol.CloseShutdown), "server shutting down")
		return nil
	}
	wc.hc = hc
	if !s.addConn(wc) {
		s.hub.Unregister(hc)
		ws.Close(websocket.StatusCode(protocol.CloseShutdown), "server shutting down")
		return nil
	}
	wc.guard.addrHanded = true // finish releases it
	if query.Has("name") {
		wc.queryHello(query)
	}
	if !s.tasks.Go(wc.readLoop) {
		wc.finish()
	}
	return nil
}

// coder/websocket keeps the bufio.Reader and bufio.Writer that Hijack returns
// as the connection's read and write buffers for its whole life; net/http
// hands over 4 KiB ones. Smaller ones save ~6 KiB per idle connection
// (docs/performance.md, T4). A client frame above wsReadBufSize costs an
// extra read(2); a server frame above wsWriteBufSize an extra write(2)
// (coder/websocket buffers the header, then the payload). Single messages
// (welcome, ack, one message at a time) fit in 1 KiB; batches at high rates
// are tens of KiB and pay the extra write(2) with 2 or 4 KiB too: measured,
// 1 KiB did not cost fan-out CPU (T1) and saves 0.4-1 KiB per connection.
const (
	wsReadBufSize  = 1 << 10
	wsWriteBufSize = 1 << 10
)

// smallBufHijacker is the ResponseWriter given to websocket.Accept: its
// Hijack returns the connection with wsReadBufSize/wsWriteBufSize buffers.
// Everything else (Header, WriteHeader for Echo's committed status and
// access log, Flush, Unwrap) goes to the wrapped writer.
type smallBufHijacker struct {
	http.ResponseWriter
}

func (w smallBufHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Writer.Buffered() > 0 { // net/http flushes the 101 before; be safe
		if err := brw.Writer.Flush(); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	var br *bufio.Reader
	if n := brw.Reader.Buffered(); n == 0 {
		br = bufio.NewReaderSize(conn, wsReadBufSize)
	} else {
		// The client may have sent frames right behind the handshake. Accept
		// keeps what the reader has buffered (and reads the connection
		// afterwards), so the bytes must be in the new reader's buffer.
		b, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn), max(wsReadBufSize, n))
		if _, err := br.Peek(n); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, wsWriteBufSize)), nil
}

func (w smallBufHijacker) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w smallBufHijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// queryHello treats ?name=&session_id=&token=&echo= as the hello object.
func (wc *wsConn) queryHello(q url.Values) {
	f := &wc.frame
	*f = protocol.Frame{Type: protocol.TypeHello, Name: q.Get("name"), SessionID: q.Get("session_id"), Token: q.Get("token"),
		Instance: q.Get("instance")}
	switch q.Get("echo") {
	case "false", "0":
		no := false
		f.Echo = &no
	}
	wc.hello(f)
}

// wake is the hub's signal that data is queued and no writer runs.
func (wc *wsConn) wake() {
	wc.lat.woken() // metrics.go: one wake in 16 is timed
	wc.srv.tasks.Go(wc.writeLoop)
}

// writeLoop writes what is queued, one frame per batch, until the queue is
// empty. No lock is held while writing.
func (wc *wsConn) writeLoop() {
	for {
		b, ok := wc.hc.TryNext()
		if !ok {
			return
		}
		wc.writeMu.Lock()
		wc.writeStart.Store(max(wc.srv.now(), 1))
		err := wc.ws.Write(context.Background(), websocket.MessageText, b.Bytes)
		wc.writeStart.Store(0)
		wc.lat.written(wc.srv.metrics)
		wc.writeMu.Unlock()
		b.Release()
		if err != nil {
			wc.hc.Close(protocol.CloseGoingAway, "write failed")
			return
		}
	}
}

// onClose is the hub's decision to close (slow consumer, operator, shutdown,
// or ours through hc.Close). It runs with hub locks held, so the close runs
// on its own goroutine: it waits for the write in progress to complete (the
// sweeper drops the TCP connection if that takes WriteTimeout), then sends
// the close frame and waits (at most 5 s) for the client's. What was still
// queued is dropped.
func (wc *wsConn) onClose(code protocol.CloseCode, reason string) {
	if !wc.closing.CompareAndSwap(false, true) {
		return
	}
	wc.srv.tasks.Go(func() {
		wc.writeMu.Lock()
		wc.writeMu.Unlock() // only waiting for the write in progress
		if code == protocol.CloseTimeout {
			// A silent peer will not answer the close frame: drop the
			// connection soon after sending it, so that its subscriptions
			// end (and presence says leave) within the heartbeat timeout.
			t := time.AfterFunc(silentCloseGrace, func() { wc.ws.CloseNow() })
			defer t.Stop()
		}
		if err := wc.ws.Close(websocket.StatusCode(code), reason); err != nil {
			wc.srv.log.Debug("websocket close", "client_id", wc.hc.ID(), "code", int(code), "err", err)
		}
	})
}

// readLoop reads frames until the connection ends, then cleans up.
func (wc *wsConn) readLoop() {
	defer wc.finish()
	for {
		typ, r, err := wc.ws.Reader(context.Background())
		if err != nil {
			wc.logEnd(err)
			return
		}
		wc.lastRead.Store(wc.srv.now())
		buf, err := readFrame(r)
		if err != nil {
			putReadBuf(buf)
			wc.logEnd(err)
			return
		}
		if !wc.closing.Load() {
			wc.handleMessage(typ, *buf)
		}
		putReadBuf(buf)
	}
}

func (wc *wsConn) logEnd(err error) {
	wc.guard.endStatus = int(websocket.CloseStatus(err))
	if wc.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		wc.srv.log.Debug("websocket ended", "client_id", wc.hc.ID(), "status", int(websocket.CloseStatus(err)), "err", err)
	}
}

// finish runs when the reader ends.
func (wc *wsConn) finish() {
	if wc.closing.CompareAndSwap(false, true) {
		wc.ws.CloseNow() // the peer went away or broke the protocol: drop the socket
	}
	wc.release() // quotas, metrics, access log (ratelimit.go)
	wc.srv.hub.Unregister(wc.hc)
	wc.srv.removeConn(wc)
}

// silentCloseGrace is how long a close with 4002 (no hello, heartbeat
// timeout) waits for the peer's close frame before dropping the connection.
const silentCloseGrace = 250 * time.Millisecond

var legacyPrefix = []byte(protocol.LegacyPublishPrefix)

var errStop = errors.New("stop")

// handleMessage serves one WebSocket message: binary frames are refused,
// "publish-json:" frames are the legacy publish, anything else is
// newline-delimited JSON objects served in order.
func (wc *wsConn) handleMessage(typ websocket.MessageType, data []byte) {
	if typ != websocket.MessageText {
		wc.hc.CountIn(len(data))
		wc.fail("", protocol.CodeUnsupported, "binary frames are not supported: send text frames of JSON objects")
		return
	}
	if bytes.HasPrefix(data, legacyPrefix) {
		wc.hc.CountIn(len(data))
		f := &wc.frame
		if err := protocol.DecodeLegacyPublish(data, f); err != nil {
			wc.fail("", protocol.CodeBadRequest, err.Error())
			return
		}
		wc.handleObject(f)
		return
	}
	protocol.Split(data, func(obj []byte) error {
		if wc.closing.Load() {
			return errStop
		}
		wc.hc.CountIn(len(obj))
		f := &wc.frame
		if err := protocol.Decode(obj, f); err != nil {
			id := f.ID
			if protocol.ValidateID(id) != nil {
				id = ""
			}
			wc.fail(id, protocol.CodeBadRequest, err.Error())
			return nil
		}
		wc.handleObject(f)
		return nil
	})
}

// handleObject serves one decoded object.
func (wc *wsConn) handleObject(f *protocol.Frame) {
	if !wc.welcomed.Load() {
		if f.Type != protocol.TypeHello {
			wc.fail(validID(f.ID), protocol.CodeNotReady, "send hello first")
			return
		}
		wc.hello(f)
		return
	}
	if f.Type == protocol.TypeHello {
		wc.fail(validID(f.ID), protocol.CodeBadRequest, "hello already done: the session is fixed for the life of the connection")
		return
	}
	if !wc.allow(f) { // rate limits (ratelimit.go)
		return
	}
	if f.Type == protocol.TypeRefresh { // a new token (auth.go)
		wc.refresh(f)
		return
	}
	var pe *protocol.Error
	if err := wc.srv.hub.Handle(wc.hc, f); errors.As(err, &pe) {
		if !(f.Type == protocol.TypeReply && f.ID == "" && pe.Code == protocol.CodeNotFound) { // a late reply: not reported
			wc.srv.metrics.countError(pe.Code)
		}
		if isViolation(pe.Code) {
			wc.violation()
		}
	}
}

func validID(id string) string {
	if protocol.ValidateID(id) != nil {
		return ""
	}
	return id
}

// hello validates a hello, queues the welcome and joins the session.
func (wc *wsConn) hello(f *protocol.Frame) {
	id := validID(f.ID)
	if f.Protocol != 0 && f.Protocol != protocol.Version {
		wc.fail(id, protocol.CodeUnsupported, "protocol version not supported: this server speaks 1")
		return
	}
	if !wc.authenticate(f) { // auth.go: may fill name and session from the token
		return
	}
	if err := protocol.ValidateName(f.Name); err != nil {
		wc.fail(id, protocol.CodeBadRequest, err.Error())
		return
	}
	session := f.SessionID
	if session == "" {
		session = protocol.DefaultSessionID(f.Name)
	}
	if err := protocol.ValidateSessionID(session); err != nil {
		wc.fail(id, protocol.CodeBadRequest, err.Error())
		return
	}
	cfg := &wc.srv.cfg
	// Sized for the whole object at once (appending to nil regrows it
	// several times: measurable when 10,000 clients connect).
	welcome := protocol.AppendWelcome(make([]byte, 0, 192+len(wc.hc.ID())+len(f.Name)+len(session)+len(cfg.Version)), &protocol.Welcome{
		ClientID:      wc.hc.ID(),
		Name:          f.Name,
		SessionID:     session,
		Server:        "switchboard/" + cfg.Version,
		HeartbeatMS:   cfg.Heartbeat.Milliseconds(),
		MaxFrameBytes: cfg.MaxFrameBytes,
	})
	// The instance scopes publish de-duplication (docs/delivery.md).
	if f.Instance != "" && protocol.ValidateInstance(f.Instance) != nil {
		wc.fail(id, protocol.CodeBadRequest, protocol.ErrInvalidInstance.Error())
		return
	}
	_ = wc.hc.SetInstance(f.Instance) // valid, and before Register
	if !wc.admit(session) {           // ratelimit.go: the session's quota, rate limiters, the token's permissions
		return
	}
	if err := wc.srv.hub.Register(wc.hc, f.Name, session, f.Echo == nil || *f.Echo, welcome); err != nil {
		wc.hc.Close(protocol.CloseShutdown, "server shutting down")
		return
	}
	wc.welcomed.Store(true)
}

// fail queues an error caused by the client and counts the violation.
func (wc *wsConn) fail(id string, code protocol.Code, msg string) {
	wc.srv.metrics.countError(code)
	wc.hc.Enqueue(protocol.AppendError(nil, id, code, msg))
	wc.violation()
}

// isViolation tells protocol misuse from the ordinary outcomes (conflict,
// not_found, timeout, no_responders) that a correct client meets too.
func isViolation(code protocol.Code) bool {
	switch code {
	case protocol.CodeBadRequest, protocol.CodeUnsupported, protocol.CodeNotReady,
		protocol.CodeForbidden, protocol.CodeTooLarge:
		return true
	}
	return false
}

// violation counts one protocol violation; more than MaxViolations within
// 10 s close the connection with 4400.
func (wc *wsConn) violation() {
	now := wc.srv.now()
	if now-wc.windowStart > int64(violationWindow) {
		wc.windowStart, wc.violations = now, 0
	}
	wc.violations++
	if wc.violations > wc.srv.cfg.MaxViolations {
		wc.hc.Close(protocol.CloseViolations, "repeated protocol violations")
	}
}

// ping sends a WebSocket ping. The pong is noticed by OnPongReceived; Ping
// only returns early when it arrives.
func (wc *wsConn) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), wc.srv.cfg.Heartbeat)
	defer cancel()
	wc.ws.Ping(ctx)
}

// Read buffers are pooled: a connection holds one only while it handles a
// frame.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func putReadBuf(b *[]byte) {
	if cap(*b) <= protocol.DefaultMaxFrameBytes+1 {
		*b = (*b)[:0]
		readBufs.Put(b)
	}
}

// readFrame reads one message into a pooled buffer; the connection's read
// limit (MaxFrameBytes) bounds it.
func readFrame(r io.Reader) (*[]byte, error) {
	bp := readBufs.Get().(*[]byte)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			*bp = b
			return bp, nil
		}
		if err != nil {
			*bp = b
			return bp, err
		}
	}
}
