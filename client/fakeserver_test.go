//go:build !js

package client

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/protocol"
)

// fakeServer is a test double that speaks the client-facing half of
// PROTOCOL.md with the fewest moving parts: one goroutine per connection,
// synchronous writes, one lock. It is not a second server: no limits, no
// history, no rate limiting, no origin checks. A publisher's ack and its own
// echoed message go out in one frame, so every test that publishes while
// subscribed also exercises batched frames.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu           sync.Mutex
	conns        map[*fakeConn]bool
	nextID       int
	seqs         map[string]uint64 // session + " " + topic
	requests     map[string]*fakeRequest
	dials        int
	dialedAt     []time.Time // when each dial arrived
	hellos       []protocol.Frame
	subscribes   []protocol.Frame
	publishes    []protocol.Frame
	subprotocols []string

	// Behaviour switches, set by tests.
	down         bool               // refuse upgrades with HTTP 503
	helloErr     protocol.Code      // answer hello with this error
	closeOnHello protocol.CloseCode // answer hello by closing with this code
	heartbeatMS  int64              // welcome's heartbeat_ms (default 25000)
	maxFrame     int64              // welcome's max_frame_bytes (default 65536)
	deaf         bool               // ignore ping objects
	hold         map[string]bool    // publishes on these topics get no ack
	refuse       map[string]bool    // subscribes to these patterns get forbidden
	notRecovered string             // subscribes with since get recovered:false with this reason (else true, replaying nothing)
}

type fakeConn struct {
	ws      *websocket.Conn
	id      string
	name    string
	session string
	echo    bool
	subs    map[string]bool
	wmu     sync.Mutex
}

type fakeRequest struct {
	from  *fakeConn
	id    string
	timer *time.Timer
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	return newFakeServerOn(t, nil)
}

// newFakeServerOn serves on ln (a new loopback port when nil).
func newFakeServerOn(t *testing.T, ln net.Listener) *fakeServer {
	t.Helper()
	fs := &fakeServer{
		t:        t,
		conns:    make(map[*fakeConn]bool),
		seqs:     make(map[string]uint64),
		requests: make(map[string]*fakeRequest),
		hold:     make(map[string]bool),
		refuse:   make(map[string]bool),
	}
	fs.srv = httptest.NewUnstartedServer(fs)
	if ln != nil {
		fs.srv.Listener.Close()
		fs.srv.Listener = ln
	}
	fs.srv.Start()
	t.Cleanup(fs.close)
	return fs
}

func (fs *fakeServer) url() string { return "ws://" + fs.srv.Listener.Addr().String() + "/ws" }

func (fs *fakeServer) close() {
	fs.mu.Lock()
	for c := range fs.conns {
		_ = c.ws.CloseNow()
	}
	for _, r := range fs.requests {
		r.timer.Stop()
	}
	fs.mu.Unlock()
	fs.srv.Close()
}

// set runs fn under the server's lock, to flip behaviour switches.
func (fs *fakeServer) set(fn func(fs *fakeServer)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fn(fs)
}

// get reads under the server's lock.
func get[T any](fs *fakeServer, fn func(fs *fakeServer) T) T {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fn(fs)
}

// dropAll closes every connection with code.
func (fs *fakeServer) dropAll(code protocol.CloseCode) {
	fs.mu.Lock()
	var cs []*fakeConn
	for c := range fs.conns {
		cs = append(cs, c)
	}
	fs.mu.Unlock()
	for _, c := range cs {
		_ = c.ws.Close(websocket.StatusCode(code), "test")
	}
}

// push writes a raw frame to the connection with client id id.
func (fs *fakeServer) push(id string, frame string) {
	fs.mu.Lock()
	var target *fakeConn
	for c := range fs.conns {
		if c.id == id {
			target = c
		}
	}
	fs.mu.Unlock()
	if target == nil {
		fs.t.Errorf("fake server: no connection %q", id)
		return
	}
	target.write([]byte(frame))
}

func (fs *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	fs.dials++
	fs.dialedAt = append(fs.dialedAt, time.Now())
	down := fs.down
	fs.mu.Unlock()
	if down {
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return
	}
	c := &fakeConn{ws: ws, subs: make(map[string]bool)}
	fs.mu.Lock()
	fs.subprotocols = append(fs.subprotocols, ws.Subprotocol())
	fs.conns[c] = true
	fs.mu.Unlock()
	defer func() {
		fs.mu.Lock()
		delete(fs.conns, c)
		fs.mu.Unlock()
		_ = ws.CloseNow()
	}()
	for {
		_, data, err := ws.Read(context.Background())
		if err != nil {
			return
		}
		_ = protocol.Split(data, func(obj []byte) error {
			fs.handle(c, obj)
			return nil
		})
	}
}

func (c *fakeConn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *fakeConn) writeError(id string, code protocol.Code, msg string) {
	c.write(protocol.AppendError(nil, id, code, msg))
}

func (fs *fakeServer) handle(c *fakeConn, obj []byte) {
	var f protocol.Frame
	if err := protocol.Decode(obj, &f); err != nil {
		c.writeError(f.ID, protocol.CodeBadRequest, err.Error())
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if c.id == "" && f.Type != protocol.TypeHello {
		c.writeError(f.ID, protocol.CodeNotReady, "hello first")
		return
	}
	now := protocol.FormatTimestamp(time.Now())
	switch f.Type {
	case protocol.TypeHello:
		fs.hellos = append(fs.hellos, f)
		if fs.helloErr != "" {
			c.writeError("", fs.helloErr, "refused by the test")
			return
		}
		if fs.closeOnHello != 0 {
			go c.ws.Close(websocket.StatusCode(fs.closeOnHello), "closed by the test")
			return
		}
		fs.nextID++
		c.id = fmt.Sprintf("c%d", fs.nextID)
		c.name = f.Name
		c.session = f.SessionID
		if c.session == "" {
			c.session = protocol.DefaultSessionID(f.Name)
		}
		c.echo = f.Echo == nil || *f.Echo
		w := &protocol.Welcome{ClientID: c.id, Name: c.name, SessionID: c.session, Server: "fake", HeartbeatMS: 25000, MaxFrameBytes: protocol.DefaultMaxFrameBytes}
		if fs.heartbeatMS != 0 {
			w.HeartbeatMS = fs.heartbeatMS
		}
		if fs.maxFrame != 0 {
			w.MaxFrameBytes = fs.maxFrame
		}
		c.write(protocol.AppendWelcome(nil, w))
	case protocol.TypeSubscribe:
		fs.subscribes = append(fs.subscribes, f)
		if fs.refuse[f.Topic] {
			c.writeError(f.ID, protocol.CodeForbidden, "refused by the test")
			return
		}
		c.subs[f.Topic] = true
		ack := &protocol.Ack{ID: f.ID}
		if !protocol.HasWildcard(f.Topic) {
			ack.HasSeq, ack.Seq, ack.Epoch = true, fs.seqs[c.session+" "+f.Topic], "e1"
		}
		if f.Since != nil {
			ok := fs.notRecovered == ""
			ack.Recovered, ack.Reason = &ok, fs.notRecovered
		}
		c.write(protocol.AppendAck(nil, ack))
	case protocol.TypeUnsubscribe:
		delete(c.subs, f.Topic)
		c.write(protocol.AppendAck(nil, &protocol.Ack{ID: f.ID}))
	case protocol.TypePublish:
		fs.publishes = append(fs.publishes, f)
		if fs.hold[f.Topic] {
			return
		}
		key := c.session + " " + f.Topic
		fs.seqs[key]++
		ts := f.Timestamp
		if ts == "" {
			ts = now
		}
		msg := protocol.AppendMessage(nil, &protocol.Message{Topic: f.Topic, Payload: f.Payload, PublisherName: c.name, Timestamp: ts, SessionID: c.session, Seq: fs.seqs[key]})
		var own []byte
		if f.ID != "" {
			own = protocol.AppendAck(own, &protocol.Ack{ID: f.ID, HasSeq: true, Seq: fs.seqs[key]})
		}
		for o := range fs.conns {
			if o.session != c.session || !o.matches(f.Topic) {
				continue
			}
			if o != c {
				o.write(msg)
			} else if c.echo {
				if len(own) > 0 {
					own = append(own, '\n')
				}
				own = append(own, msg...)
			}
		}
		if len(own) > 0 {
			c.write(own)
		}
	case protocol.TypeRequest:
		var responders []*fakeConn
		for o := range fs.conns {
			if o.session == c.session && o.matches(f.Topic) {
				responders = append(responders, o)
			}
		}
		if len(responders) == 0 {
			c.writeError(f.ID, protocol.CodeNoResponders, "no responders")
			return
		}
		fs.nextID++
		replyTo := fmt.Sprintf("r%d", fs.nextID)
		timeout := time.Duration(f.TimeoutMS) * time.Millisecond
		if timeout <= 0 {
			timeout = protocol.DefaultRequestTimeout
		}
		fs.requests[replyTo] = &fakeRequest{from: c, id: f.ID, timer: time.AfterFunc(timeout, func() {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			if _, ok := fs.requests[replyTo]; ok {
				delete(fs.requests, replyTo)
				c.writeError(f.ID, protocol.CodeTimeout, "no reply in time")
			}
		})}
		msg := protocol.AppendMessage(nil, &protocol.Message{Topic: f.Topic, Payload: f.Payload, PublisherName: c.name, Timestamp: now, SessionID: c.session, ReplyTo: replyTo})
		for _, o := range responders {
			o.write(msg)
		}
	case protocol.TypeReply:
		r := fs.requests[f.ReplyTo]
		if r == nil || r.from.session != c.session {
			if f.ID != "" {
				c.writeError(f.ID, protocol.CodeNotFound, "unknown reply_to")
			}
			return
		}
		delete(fs.requests, f.ReplyTo)
		r.timer.Stop()
		r.from.write(protocol.AppendResponse(nil, r.id, f.Payload, c.name, now))
		if f.ID != "" {
			c.write(protocol.AppendAck(nil, &protocol.Ack{ID: f.ID}))
		}
	case protocol.TypeSend:
		var target *fakeConn
		for o := range fs.conns {
			if o.id == f.To && o.session == c.session {
				target = o
			}
		}
		if target == nil {
			c.writeError(f.ID, protocol.CodeNotFound, "no such client")
			return
		}
		target.write(protocol.AppendMessage(nil, &protocol.Message{Topic: f.Topic, Payload: f.Payload, PublisherName: c.name, Timestamp: now, SessionID: c.session, From: c.id}))
		if f.ID != "" {
			c.write(protocol.AppendAck(nil, &protocol.Ack{ID: f.ID}))
		}
	case protocol.TypePing:
		if !fs.deaf {
			c.write(protocol.AppendPong(nil, f.ID))
		}
	default:
		c.writeError(f.ID, protocol.CodeUnsupported, "unknown type "+strings.ToValidUTF8(f.Type, "?"))
	}
}

func (c *fakeConn) matches(topic string) bool {
	for p := range c.subs {
		if protocol.Match(p, topic) {
			return true
		}
	}
	return false
}
