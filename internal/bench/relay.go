package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/switchboardhq/switchboard/protocol"
)

// Relay is the floor every run is measured against: the simplest
// coder/websocket relay that still does what the load needs. Each
// connection has a reader and a writer goroutine; a publish is encoded once
// into a message object shaped like Switchboard's (same fields, same size)
// and queued to every subscriber of its topic; a writer joins everything
// queued for its connection into one frame. It speaks just enough of the
// protocol for the fanout and idle loads: hello → welcome, subscribe → ack,
// publish → message (+ ack with an id), ping → pong. There are no sessions,
// patterns, validation, history or timeouts: it is a floor, not a server.
type Relay struct {
	mu     sync.RWMutex
	topics map[string]map[*relayConn]struct{}
	conns  map[*relayConn]struct{}
	closed bool
	wg     sync.WaitGroup
	ids    atomic.Uint64
	seq    atomic.Uint64
}

// relayQueueBytes bounds a connection's queue like the server's default:
// beyond it the connection is closed with 4001.
const relayQueueBytes = 4 << 20

type relayConn struct {
	r       *Relay
	ws      *websocket.Conn
	name    string // reader-owned
	session string
	notify  chan struct{}

	mu     sync.Mutex
	q      [][]byte
	qBytes int
	closed bool
}

// NewRelay returns a relay; serve its Handler and Close it when done.
func NewRelay() *Relay {
	return &Relay{topics: map[string]map[*relayConn]struct{}{}, conns: map[*relayConn]struct{}{}}
}

// Handler accepts WebSocket connections on any path.
func (r *Relay) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ws, err := websocket.Accept(w, req, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
		if err != nil {
			return
		}
		ws.SetReadLimit(protocol.DefaultMaxFrameBytes)
		c := &relayConn{r: r, ws: ws, notify: make(chan struct{}, 1)}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			ws.Close(websocket.StatusCode(protocol.CloseShutdown), "relay closed")
			return
		}
		r.conns[c] = struct{}{}
		r.wg.Add(2)
		r.mu.Unlock()
		go c.writeLoop()
		go c.readLoop()
	})
}

// Close closes every connection and waits for their goroutines.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed = true
	conns := make([]*relayConn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.shut()
		c.ws.CloseNow()
	}
	r.wg.Wait()
}

func (c *relayConn) enqueue(b []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.qBytes+len(b) > relayQueueBytes {
		c.mu.Unlock()
		c.shut()
		c.r.wg.Go(func() { c.ws.Close(websocket.StatusCode(protocol.CloseSlowConsumer), "slow consumer") })
		return
	}
	c.q = append(c.q, b)
	c.qBytes += len(b)
	select { // under mu: shut closes notify under mu
	case c.notify <- struct{}{}:
	default:
	}
	c.mu.Unlock()
}

func (c *relayConn) shut() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.q, c.qBytes = nil, 0
		close(c.notify)
	}
	c.mu.Unlock()
}

func (c *relayConn) writeLoop() {
	defer c.r.wg.Done()
	var out []byte
	var batch [][]byte
	for range c.notify {
		for {
			c.mu.Lock()
			batch, c.q = c.q, batch[:0]
			c.qBytes = 0
			c.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			out = out[:0]
			for i, b := range batch {
				if i > 0 {
					out = append(out, '\n')
				}
				out = append(out, b...)
			}
			clear(batch)
			if err := c.ws.Write(context.Background(), websocket.MessageText, out); err != nil {
				c.shut()
				return
			}
		}
	}
}

// relayObj is what the relay reads of a client object.
type relayObj struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	SessionID string          `json:"session_id"`
	Topic     string          `json:"topic"`
	Payload   json.RawMessage `json:"payload"`
}

func (c *relayConn) readLoop() {
	r := c.r
	defer func() {
		c.shut()
		c.ws.CloseNow()
		r.mu.Lock()
		delete(r.conns, c)
		for t, subs := range r.topics {
			delete(subs, c)
			if len(subs) == 0 {
				delete(r.topics, t)
			}
		}
		r.mu.Unlock()
		r.wg.Done()
	}()
	buf := make([]byte, 0, 4<<10)
	var o relayObj
	for {
		_, rd, err := c.ws.Reader(context.Background())
		if err != nil {
			return
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := rd.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		for obj := range splitObjects(buf) {
			o = relayObj{}
			if json.Unmarshal(obj, &o) != nil {
				continue
			}
			c.handle(&o)
		}
	}
}

func (c *relayConn) handle(o *relayObj) {
	r := c.r
	switch o.Type {
	case "hello":
		c.name, c.session = o.Name, o.SessionID
		b := append([]byte(`{"type":"welcome","client_id":"r`), strconv.FormatUint(r.ids.Add(1), 10)...)
		b = append(b, `","name":`...)
		b = protocol.AppendString(b, c.name)
		b = append(b, `,"session_id":`...)
		b = protocol.AppendString(b, c.session)
		b = append(b, `,"protocol":1,"server":"relay"}`...)
		c.enqueue(b)
	case "subscribe":
		r.mu.Lock()
		subs := r.topics[o.Topic]
		if subs == nil {
			subs = map[*relayConn]struct{}{}
			r.topics[o.Topic] = subs
		}
		subs[c] = struct{}{}
		r.mu.Unlock()
		c.enqueue(ack(o.ID, 0))
	case "publish":
		seq := r.seq.Add(1)
		m := protocol.AppendMessage(make([]byte, 0, 160+len(o.Payload)), &protocol.Message{
			Topic: o.Topic, Payload: o.Payload, PublisherName: c.name,
			Timestamp: protocol.FormatTimestamp(time.Now()), SessionID: c.session, Seq: seq,
		})
		r.mu.RLock()
		for s := range r.topics[o.Topic] {
			s.enqueue(m)
		}
		r.mu.RUnlock()
		if o.ID != "" {
			c.enqueue(ack(o.ID, seq))
		}
	case "ping":
		c.enqueue(protocol.AppendPong(nil, o.ID))
	}
}

func ack(id string, seq uint64) []byte {
	return protocol.AppendAck(nil, &protocol.Ack{ID: id, HasSeq: seq > 0, Seq: seq})
}

// ServeRelay listens on addr (loopback only), writes one line
// "relay ready addr=HOST:PORT url=ws://HOST:PORT/ws pid=N" to out, and
// serves a Relay until ctx is done.
func ServeRelay(ctx context.Context, addr string, out io.Writer) error {
	if err := CheckListenAddr(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("bench: relay: %w", err)
	}
	relay := NewRelay()
	hs := &http.Server{Handler: relay.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(out, "relay ready addr=%s url=ws://%s/ws pid=%d\n", ln.Addr(), ln.Addr(), os.Getpid())
	select {
	case <-ctx.Done():
	case err := <-errc:
		relay.Close()
		return fmt.Errorf("bench: relay: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx) // hijacked connections are not waited for: Close ends them
	relay.Close()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
