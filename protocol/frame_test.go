package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplit(t *testing.T) {
	var got []string
	err := Split([]byte("{\"a\":1}\n\n{\"b\":2}\r\n  \n{\"c\":3}"), func(obj []byte) error {
		got = append(got, string(obj))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Split = %q, want %q", got, want)
	}
	stop := errors.New("stop")
	n := 0
	if err := Split([]byte("{}\n{}\n{}"), func([]byte) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Split did not stop at the first error: n=%d err=%v", n, err)
	}
}

func TestDecode(t *testing.T) {
	var f Frame
	if err := Decode([]byte(`{"type":"publish","id":"7","topic":"a.b","payload":{"x": [1,
 2]},"if_seq":0,"since":{"seq":3,"epoch":"e"},"unknown":true}`), &f); err != nil {
		t.Fatal(err)
	}
	if f.Type != TypePublish || f.ID != "7" || f.Topic != "a.b" || string(f.Payload) != `{"x":[1,2]}` {
		t.Fatalf("Decode = %+v", f)
	}
	if f.IfSeq == nil || *f.IfSeq != 0 || f.Since == nil || f.Since.Seq != 3 || f.Since.Epoch != "e" {
		t.Fatalf("Decode if_seq/since = %+v %+v", f.IfSeq, f.Since)
	}

	bad := []struct {
		in     string
		err    error
		wantID string
	}{
		{`{"type":`, ErrMalformed, ""},
		{`[1,2]`, ErrMalformed, ""},
		{`"str"`, ErrMalformed, ""},
		{`{"type":5,"id":"x"}`, ErrMalformed, "x"},
		{`{"id":"q"}`, ErrMissingType, "q"},
		{`{"type":"publish","id":"9","timeout_ms":"x"}`, ErrMalformed, "9"},
	}
	for _, tt := range bad {
		err := Decode([]byte(tt.in), &f)
		if !errors.Is(err, tt.err) {
			t.Errorf("Decode(%s) = %v, want %v", tt.in, err, tt.err)
		}
		if f.ID != tt.wantID {
			t.Errorf("Decode(%s) id = %q, want %q", tt.in, f.ID, tt.wantID)
		}
	}
}

func TestDecodeLegacyPublish(t *testing.T) {
	var f Frame
	err := DecodeLegacyPublish([]byte(`publish-json:{"publisher_name":"Web","topic":"NetworkConnectedEvent","payload":"Network connected","timestamp":"2024-01-24T10:25:37Z","session_id":"user-session-123"}`), &f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != TypePublish || f.Topic != "NetworkConnectedEvent" || string(f.Payload) != `"Network connected"` ||
		f.Timestamp != "2024-01-24T10:25:37Z" || f.SessionID != "user-session-123" {
		t.Fatalf("legacy = %+v", f)
	}
	if err := DecodeLegacyPublish([]byte(`publish-json:{`), &f); !errors.Is(err, ErrMalformed) {
		t.Fatalf("broken legacy: %v", err)
	}
}

func TestAppendMessageRoundTrip(t *testing.T) {
	m := Message{
		Topic: "a.b", Payload: []byte(`{"k":"v\n"}`), PublisherName: "Client1",
		Timestamp: "2024-01-24T10:25:37Z", SessionID: "s1", Seq: 42, ReplyTo: "r\"1", From: "c_1",
	}
	out := AppendMessage(nil, &m)
	if bytes.IndexByte(out, '\n') >= 0 {
		t.Fatalf("encoded message holds a newline: %s", out)
	}
	var f Frame
	if err := Decode(out, &f); err != nil {
		t.Fatal(err)
	}
	if f.Type != TypeMessage || f.Topic != m.Topic || string(f.Payload) != string(m.Payload) ||
		f.PublisherName != m.PublisherName || f.Timestamp != m.Timestamp || f.SessionID != m.SessionID ||
		f.SeqValue() != 42 || f.ReplyTo != m.ReplyTo || f.From != m.From {
		t.Fatalf("round trip = %+v from %s", f, out)
	}
	noSeq := AppendMessage(nil, &Message{Topic: "t", SessionID: "s"})
	if strings.Contains(string(noSeq), "seq") || !strings.Contains(string(noSeq), `"payload":null`) {
		t.Fatalf("message without seq/payload = %s", noSeq)
	}
}

func TestAppendServerObjects(t *testing.T) {
	rec := true
	tests := []struct {
		got  []byte
		want string
	}{
		{AppendAck(nil, &Ack{ID: "7"}), `{"type":"ack","id":"7"}`},
		{AppendAck(nil, &Ack{ID: "7", HasSeq: true}), `{"type":"ack","id":"7","seq":0}`},
		{AppendAck(nil, &Ack{ID: "s", HasSeq: true, Seq: 5, Epoch: "ep", Recovered: &rec}), `{"type":"ack","id":"s","seq":5,"epoch":"ep","recovered":true}`},
		{AppendError(nil, "", CodeBadRequest, "bad"), `{"type":"error","code":"bad_request","message":"bad"}`},
		{AppendError(nil, "7", CodeForbidden, "no"), `{"type":"error","id":"7","code":"forbidden","message":"no"}`},
		{AppendPong(nil, ""), `{"type":"pong"}`},
		{AppendPong(nil, "p"), `{"type":"pong","id":"p"}`},
		{AppendResponse(nil, "r1", []byte(`1`), "svc", "T"), `{"type":"response","id":"r1","payload":1,"publisher_name":"svc","timestamp":"T"}`},
		{AppendWelcome(nil, &Welcome{ClientID: "c_1", Name: "n", SessionID: "s", Server: "switchboard/0.1.0", HeartbeatMS: 25000, MaxFrameBytes: 65536}),
			`{"type":"welcome","client_id":"c_1","name":"n","session_id":"s","protocol":1,"server":"switchboard/0.1.0","heartbeat_ms":25000,"max_frame_bytes":65536}`},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\t\r\n", "üñí©ødé", "bad\xffutf8", "line\u2028sep\u2029", "<&>"} {
		got := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: not JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("AppendString(%q) decodes to %q, encoding/json to %q", s, back, wantBack)
		}
	}
}

func TestTimestamp(t *testing.T) {
	ts := FormatTimestamp(time.Date(2024, 1, 24, 10, 25, 37, 123456789, time.FixedZone("x", 3600)))
	if ts != "2024-01-24T09:25:37.123Z" {
		t.Fatalf("FormatTimestamp = %s", ts)
	}
	if ValidateTimestamp(ts) != nil || ValidateTimestamp("2024-01-24T10:25:37Z") != nil || ValidateTimestamp("yesterday") == nil {
		t.Fatal("ValidateTimestamp wrong")
	}
}

func TestErrorIs(t *testing.T) {
	err := error(Errorf(CodeTimeout, "request %s timed out", "r1"))
	if !errors.Is(err, &Error{Code: CodeTimeout}) || errors.Is(err, &Error{Code: CodeNotFound}) {
		t.Fatal("errors.Is by code broken")
	}
	if err.Error() != "switchboard: timeout: request r1 timed out" {
		t.Fatalf("Error() = %q", err.Error())
	}
}
