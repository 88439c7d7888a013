package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/switchboardhq/switchboard/protocol"
)

// DefaultPerSourceIP is how many connections one source address opens
// before the next one (127.0.0.2, 127.0.0.3, …) is used: Linux's default
// ephemeral port range (32768–60999) holds about 28,000 ports per source
// address.
const DefaultPerSourceIP = 25000

// dialer opens WebSocket connections to one loopback URL, spreading them
// over source addresses 127.0.0.1, 127.0.0.2, … perIP connections each when
// the target is IPv4.
type dialer struct {
	url   string
	v4    bool
	perIP int

	mu      sync.Mutex
	clients map[int]*http.Client // by source address index
}

func newDialer(u *url.URL, perIP int) *dialer {
	v := *u
	if v.Hostname() == "localhost" {
		v.Host = net.JoinHostPort("127.0.0.1", v.Port())
	}
	ip := net.ParseIP(v.Hostname())
	return &dialer{url: v.String(), v4: ip != nil && ip.To4() != nil, perIP: max(perIP, 1), clients: map[int]*http.Client{}}
}

func (d *dialer) client(i int) (*http.Client, error) {
	src := 0
	if d.v4 {
		src = i / d.perIP
	} else if i >= d.perIP {
		return nil, fmt.Errorf("bench: more than %d connections need an IPv4 loopback target (source addresses 127.0.0.x)", d.perIP)
	}
	if src > 250 {
		return nil, fmt.Errorf("bench: connection %d would need source address 127.0.0.%d", i, src+1)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clients[src]; ok {
		return c, nil
	}
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if d.v4 && src > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(src+1))}
	}
	c := &http.Client{
		Transport: &http.Transport{
			Proxy: nil, // loopback only: never through a proxy
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := nd.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				// Belt and braces over CheckURL: whatever a name resolved to,
				// talk only to loopback.
				if ta, ok := conn.RemoteAddr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
					conn.Close()
					return nil, fmt.Errorf("%w: dialed %v", ErrNotLoopback, conn.RemoteAddr())
				}
				return conn, nil
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("bench: redirects are not followed") },
	}
	d.clients[src] = c
	return c, nil
}

// dial opens connection number i.
func (d *dialer) dial(ctx context.Context, i int) (*conn, error) {
	hc, err := d.client(i)
	if err != nil {
		return nil, err
	}
	ws, _, err := websocket.Dial(ctx, d.url, &websocket.DialOptions{
		HTTPClient:   hc,
		Subprotocols: []string{protocol.Subprotocol},
	})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(-1) // batched frames from a server have no fixed bound
	return &conn{ws: ws, buf: make([]byte, 0, 4<<10)}, nil
}

// conn is a lean protocol connection: one reusable read buffer, frames
// split on '\n', objects inspected without decoding.
type conn struct {
	ws  *websocket.Conn
	buf []byte // reader-owned
}

// read reads the next message into the connection's buffer (valid until the
// next read). A ctx without Done (context.Background) costs nothing per
// read; any other arms a timer per read.
func (c *conn) read(ctx context.Context) ([]byte, error) {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, err
	}
	b := c.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			c.buf = b
			return nil, err
		}
	}
	c.buf = b
	if typ != websocket.MessageText {
		return nil, errors.New("bench: binary frame from the server")
	}
	return b, nil
}

func (c *conn) write(b []byte) error {
	return c.ws.Write(context.Background(), websocket.MessageText, b)
}

// serverError describes an error object.
func serverError(obj []byte) error {
	return fmt.Errorf("bench: server error %s (id %q): %.200s", field(obj, codeKey), field(obj, idKey), obj)
}

// await reads until an object of type want with id (any id when empty)
// arrives; an error object with that id fails. Other objects are skipped.
func (c *conn) await(ctx context.Context, want, id string) error {
	for {
		frame, err := c.read(ctx)
		if err != nil {
			return err
		}
		for obj := range splitObjects(frame) {
			t := objType(obj)
			if string(t) == "error" && (id == "" || string(field(obj, idKey)) == id) {
				return serverError(obj)
			}
			if string(t) == want && (id == "" || string(field(obj, idKey)) == id) {
				return nil
			}
		}
	}
}

// handshake sends hello, waits for welcome, then subscribes to each topic
// and waits for its ack, like a client would; one object per frame.
func (c *conn) handshake(ctx context.Context, name, session string, topics ...string) error {
	b := make([]byte, 0, 128)
	b = append(b, `{"type":"hello","protocol":1,"name":`...)
	b = protocol.AppendString(b, name)
	b = append(b, `,"session_id":`...)
	b = protocol.AppendString(b, session)
	b = append(b, '}')
	if err := c.write(b); err != nil {
		return err
	}
	if err := c.await(ctx, "welcome", ""); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	for i, t := range topics {
		id := "s" + strconv.Itoa(i)
		b = append(b[:0], `{"type":"subscribe","id":"`...)
		b = append(b, id...)
		b = append(b, `","topic":`...)
		b = protocol.AppendString(b, t)
		b = append(b, '}')
		if err := c.write(b); err != nil {
			return err
		}
		if err := c.await(ctx, "ack", id); err != nil {
			return fmt.Errorf("subscribe %s: %w", t, err)
		}
	}
	return nil
}

// splitObjects yields the newline-separated objects of a frame.
func splitObjects(frame []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(frame) > 0 {
			obj := frame
			if i := bytes.IndexByte(frame, '\n'); i >= 0 {
				obj, frame = frame[:i], frame[i+1:]
			} else {
				frame = nil
			}
			if len(obj) > 0 && !yield(obj) {
				return
			}
		}
	}
}

// closeStatus describes why a read ended.
func closeStatus(err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		return "close " + strconv.Itoa(int(code))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return "connection closed"
	}
	return err.Error()
}

// RaiseFileLimit raises this process's open-files soft limit to the hard
// limit and returns it.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("bench: setrlimit: %w", err)
		}
	}
	return lim.Cur, nil
}
