package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// FuzzHandleMessage feeds arbitrary WebSocket messages to a connection's
// frame handling (hello, batches, legacy publish, every operation) without a
// socket. It must never panic; everything the server answers must be valid
// JSON of a server → client type; and nothing may reach another session.
func FuzzHandleMessage(f *testing.F) {
	f.Add([]byte(`{"type":"hello","name":"a","session_id":"s","protocol":1}`+"\n"+`{"type":"subscribe","id":"1","topic":">"}`+"\n"+`{"type":"publish","id":"2","topic":"x.y","payload":{"k":[1,"\n"]}}`), false)
	f.Add([]byte(`{"type":"hello","name":"a"}`+"\n"+`publish-json:{"topic":"t","payload":1}`), false)
	f.Add([]byte(`publish-json:{"topic":"t","payload":1,"session_id":"zz-observer"}`), false)
	f.Add([]byte(`{"type":"hello","name":"a","session_id":"zz-observer","echo":false}`+"\n"+`{"type":"publish","topic":"$meta.e2e","payload":1,"if_seq":0}`), false)
	f.Add([]byte(`{"type":"hello","name":"a"}`+"\n"+`{"type":"request","id":"r","topic":"t","payload":1,"timeout_ms":1}`+"\n"+`{"type":"reply","reply_to":"r_x","payload":1}`), false)
	f.Add([]byte(`{"type":"hello","name":"a"}`+"\n"+`{"type":"send","id":"s","to":"c_x","topic":"t","payload":null}`), false)
	f.Add([]byte(`{"type":"ping","id":1}`), false)
	f.Add([]byte("\x00\xff{"), true)
	srv, err := New(Config{Logger: quietLogger(), MaxViolations: 1 << 30})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	observer, _ := srv.hub.NewConn(hub.ConnConfig{})
	if err := srv.hub.Register(observer, "obs", "zz-observer", true, nil); err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{">", "$meta.>"} {
		var fr protocol.Frame
		protocol.Decode([]byte(`{"type":"subscribe","id":"1","topic":"`+p+`"}`), &fr)
		srv.hub.Handle(observer, &fr)
	}
	drain(observer)
	f.Cleanup(func() { srv.hub.Unregister(observer) })

	f.Fuzz(func(t *testing.T, data []byte, binary bool) {
		wc := &wsConn{srv: srv}
		hc, err := srv.hub.NewConn(hub.ConnConfig{})
		if err != nil {
			t.Fatal(err)
		}
		wc.hc = hc
		defer srv.hub.Unregister(hc)
		typ := websocket.MessageText
		if binary {
			typ = websocket.MessageBinary
		}
		wc.handleMessage(typ, data)
		for _, obj := range drain(hc) {
			var fr protocol.Frame
			if !json.Valid(obj) || protocol.Decode(obj, &fr) != nil {
				t.Fatalf("server sent invalid object %q", obj)
			}
			switch fr.Type {
			case protocol.TypeWelcome, protocol.TypeMessage, protocol.TypeAck, protocol.TypeResponse,
				protocol.TypeError, protocol.TypePong:
			default:
				t.Fatalf("server sent type %q: %s", fr.Type, obj)
			}
		}
		if hc.SessionID() != "zz-observer" {
			if got := drain(observer); len(got) != 0 {
				t.Fatalf("session %q reached the observer: %q", hc.SessionID(), got)
			}
		} else {
			drain(observer)
		}
	})
}

// drain takes every queued object of c.
func drain(c *hub.Conn) [][]byte {
	var out [][]byte
	for {
		b, ok := c.TryNext()
		if !ok {
			return out
		}
		for _, obj := range bytes.Split(b.Bytes, []byte("\n")) {
			out = append(out, bytes.Clone(obj))
		}
		b.Release()
	}
}
