package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
)

// BenchmarkCompressedWrite measures the server's cost of writing one frame
// with and without permessage-deflate (no context takeover, as the server
// offers it): the client end is a raw TCP reader that discards the bytes,
// so ns/op is the server's write path alone. wire-B/frame is what crossed
// the network. docs/operations.md quotes the results.
func BenchmarkCompressedWrite(b *testing.B) {
	// Realistic variety: different users, texts, SKUs and prices (a fixed
	// seed), not one object repeated, which would flatter deflate.
	rng := mrand.New(mrand.NewPCG(1, 2))
	words := strings.Fields("the a meeting standup deploy release build review please thanks today tomorrow " +
		"customer order invoice ticket bug fix merge branch main staging prod latency error retry queue " +
		"session token login dashboard metric alert page owner team sprint plan done blocked waiting")
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	sentence := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = words[rng.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	chat := func(i int) string {
		u := users[rng.IntN(len(users))]
		return fmt.Sprintf(`{"type":"message","topic":"chat.room-%d","payload":{"text":%q,"user":%q,"mentions":[%q]},"publisher_name":%q,"timestamp":"2024-01-24T10:25:%02d.%03dZ","session_id":"team-7","seq":%d}`,
			rng.IntN(50), sentence(6+rng.IntN(8)), u, users[rng.IntN(len(users))], u, rng.IntN(60), rng.IntN(1000), 1000+i)
	}
	var batch []string
	for i := range 16 {
		batch = append(batch, chat(i))
	}
	var items []string
	for range 32 {
		items = append(items, fmt.Sprintf(`{"sku":"%c-%04d","name":%q,"qty":%d,"price":%.2f,"currency":"EUR","warehouse":"%s-%d"}`,
			'A'+rng.IntN(26), rng.IntN(10000), sentence(2+rng.IntN(3)), 1+rng.IntN(20), rng.Float64()*500,
			[]string{"FRA", "AMS", "DUB", "WAW"}[rng.IntN(4)], rng.IntN(9)))
	}
	doc := `{"type":"message","topic":"orders.eu","payload":[` + strings.Join(items, ",") +
		`],"publisher_name":"shop","timestamp":"2024-01-24T10:25:37.123Z","session_id":"s","seq":1}`
	raw := make([]byte, 768)
	rand.Read(raw)
	sealed := `{"type":"message","topic":"vault","payload":"e2e:` + base64.RawURLEncoding.EncodeToString(raw) +
		`","publisher_name":"erin","timestamp":"2024-01-24T10:25:37.123Z","session_id":"s","seq":1}`
	frames := []struct{ name, data string }{
		{"chat-1", chat(99)},
		{"chat-batch16", strings.Join(batch, "\n")},
		{"orders-json", doc},
		{"e2e-1k", sealed},
	}
	for _, fr := range frames {
		for _, on := range []bool{false, true} {
			mode := "off"
			if on {
				mode = "deflate"
			}
			b.Run(fmt.Sprintf("%s/%dB/%s", fr.name, len(fr.data), mode), func(b *testing.B) {
				benchWrite(b, []byte(fr.data), on)
			})
		}
	}
}

func benchWrite(b *testing.B, frame []byte, compress bool) {
	accepted := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts := &websocket.AcceptOptions{}
		if compress {
			opts.CompressionMode = websocket.CompressionNoContextTakeover
			opts.CompressionThreshold = DefaultCompressionThreshold
		}
		ws, err := websocket.Accept(w, r, opts)
		if err != nil {
			b.Error(err)
			return
		}
		accepted <- ws
	}))
	defer srv.Close()

	// A raw client: the handshake by hand, then every byte discarded.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ext := ""
	if compress {
		ext = "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n"
	}
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n", ext)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("handshake: %v %v", resp, err)
	}
	if got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate"); got != compress {
		b.Fatalf("compression negotiated: %v", got)
	}
	var wire atomic.Int64
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		n, _ := io.Copy(io.Discard, br)
		wire.Store(n)
	}()
	ws := <-accepted
	ctx := context.Background()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := ws.Write(ctx, websocket.MessageText, frame); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ws.CloseNow()
	conn.Close()
	<-drained
	b.ReportMetric(float64(wire.Load())/float64(b.N), "wire-B/frame")
}
