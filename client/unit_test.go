package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Tests of the client's pure parts; they need no server and run on both
// platforms.

func TestNormalizeURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ws://h:1", "ws://h:1/ws"},
		{"ws://h:1/", "ws://h:1/"},
		{"wss://h/custom?x=1", "wss://h/custom?x=1"},
		{"http://h:8080", "ws://h:8080/ws"},
		{"HTTPS://h", "wss://h/ws"},
		{"Ws://h?x=1#f", "ws://h/ws?x=1#f"},
		{"ws://u:p@h:1/p", "ws://u:p@h:1/p"},
		{"wss://[::1]:8443", "wss://[::1]:8443/ws"},
		{"ws://[fe80::1%25eth0]/x", "ws://[fe80::1%25eth0]/x"},
		{"ws://127.0.0.1:18961/ws", "ws://127.0.0.1:18961/ws"},
		{"ws://h:/", "ws://h:/"},
		{"ftp://h", ""},
		{"ws://", ""},
		{"ws:///ws", ""},
		{"ws://:80/", ""},
		{"ws://u@/x", ""},
		{"ws://h:x/", ""},
		{"ws://[::1/", ""},
		{"ws://[::1]x/", ""},
		{"ws://h h/", ""},
		{"ws://h/a\nb", ""},
		{"ws://h/\x7f", ""},
		{"ws:h", ""},
		{"h:8080", ""},
		{"/ws", ""},
		{"", ""},
		{"::", ""},
	} {
		got, err := normalizeURL(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidURL) {
				t.Errorf("normalizeURL(%q) = %q, %v; want ErrInvalidURL", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("normalizeURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	o := Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, RateLimitBackoff: 30 * time.Second, DisableJitter: true}
	for n, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		if got := o.backoff(n, false); got != want*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want*time.Millisecond)
		}
	}
	if got := o.backoff(100, false); got != time.Second {
		t.Errorf("backoff(100) = %v (overflow?)", got)
	}
	if got := o.backoff(0, true); got != 30*time.Second+100*time.Millisecond {
		t.Errorf("long backoff = %v", got)
	}
	o.DisableJitter = false
	seen := map[time.Duration]bool{}
	for range 200 {
		d := o.backoff(3, false)
		if d < 0 || d > 800*time.Millisecond {
			t.Fatalf("jittered backoff %v outside [0, 800ms]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter produced only %d distinct delays", len(seen))
	}
}

func TestMarshalPayload(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
		err  error
	}{
		{nil, `null`, nil},
		{"hi", `"hi"`, nil},
		{map[string]int{"a": 1}, `{"a":1}`, nil},
		{struct{ N int }{2}, `{"N":2}`, nil},
		{json.RawMessage(`{"a": [1, 2]}`), `{"a": [1, 2]}`, nil},
		{json.RawMessage("{\n  \"a\": 1\n}"), `{"a":1}`, nil},
		{[]byte(`[1,2]`), `[1,2]`, nil},
		{[]byte(`"e2e:AAAA"`), `"e2e:AAAA"`, nil},
		{[]byte(`nope`), ``, ErrInvalidPayload},
		{json.RawMessage(``), ``, ErrInvalidPayload},
		{json.RawMessage(`1 2`), ``, ErrInvalidPayload},
		{make(chan int), ``, &json.UnsupportedTypeError{}},
	} {
		got, err := marshalPayload(tc.in)
		if tc.err != nil {
			if err == nil || (errors.Is(tc.err, ErrInvalidPayload) && !errors.Is(err, ErrInvalidPayload)) {
				t.Errorf("marshalPayload(%v) = %s, %v; want error %v", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("marshalPayload(%v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// appendObject must produce what json.Marshal of the Frame produces, field
// for field, and what protocol.Decode reads back.
func TestAppendObject(t *testing.T) {
	yes, seq := true, uint64(0)
	for _, f := range []protocol.Frame{
		{Type: protocol.TypeHello, Name: "a", SessionID: "s", Token: "t\"x", Protocol: 1, Echo: &yes, Instance: "i-1"},
		{Type: protocol.TypeSubscribe, ID: "6", Topic: "room", Presence: true},
		{Type: protocol.TypePresence, ID: "7", Topic: "room"},
		{Type: protocol.TypeSubscribe, ID: "8", Topic: "orders.>", AllSessions: true},
		{Type: protocol.TypeUnsubscribe, ID: "9", Topic: "orders.>", AllSessions: true},
		{Type: protocol.TypePublish, ID: "10", Topic: "t", Payload: json.RawMessage(`1`), SessionID: "other"},
		{Type: protocol.TypeReply, ID: "11", ReplyTo: "r2", Payload: json.RawMessage(`2`), SessionID: "other"},
		{Type: protocol.TypeSubscribe, ID: "1", Topic: "a.*"},
		{Type: protocol.TypeSubscribe, ID: "2", Topic: "a", Since: &protocol.Since{Seq: 7, Epoch: "e"}},
		{Type: protocol.TypePublish, ID: "3", Topic: "$meta.e2e", Payload: json.RawMessage(`{"k":"v"}`), IfSeq: &seq},
		{Type: protocol.TypePublish, Topic: "t", Payload: json.RawMessage(`"\u2028<"`), Timestamp: "2024-01-24T10:25:37.000Z"},
		{Type: protocol.TypeRequest, ID: "4", Topic: "t", Payload: json.RawMessage(`null`), TimeoutMS: 5000},
		{Type: protocol.TypeReply, ReplyTo: "r1", Payload: json.RawMessage(`[1]`)},
		{Type: protocol.TypeSend, ID: "5", To: "c1", Topic: "t", Payload: json.RawMessage(`1`)},
		{Type: protocol.TypePing},
	} {
		got := appendObject(nil, &f)
		var decoded protocol.Frame
		if err := protocol.Decode(got, &decoded); err != nil {
			t.Errorf("%s: Decode: %v", got, err)
			continue
		}
		want, _ := json.Marshal(&f)
		var fromJSON protocol.Frame
		_ = protocol.Decode(want, &fromJSON)
		if !reflect.DeepEqual(normalize(decoded), normalize(fromJSON)) {
			t.Errorf("appendObject = %s\njson.Marshal = %s", got, want)
		}
	}
}

// normalize makes payloads comparable after different escaping.
func normalize(f protocol.Frame) protocol.Frame {
	if f.Payload != nil {
		var v any
		_ = json.Unmarshal(f.Payload, &v)
		b, _ := json.Marshal(v)
		f.Payload = b
	}
	return f
}

func TestOutbox(t *testing.T) {
	var b outbox
	calls := make([]*call, 4)
	for i := range calls {
		calls[i] = &call{id: fmt.Sprint(i)}
		b.push(outItem{data: []byte("0123456789"), call: calls[i]})
	}
	b.push(outItem{data: []byte("ctl"), control: true})
	if b.n != 4 || b.bytes != 40 || b.len() != 5 {
		t.Fatalf("n %d bytes %d len %d", b.n, b.bytes, b.len())
	}
	if b.fits(1, 4, 100) || !b.fits(10, 5, 50) || b.fits(11, 5, 50) {
		t.Error("fits ignores a bound")
	}
	b.pop()
	b.remove(calls[2])
	b.prepend([]outItem{{data: []byte("sub"), control: true}})
	var order []string
	for b.len() > 0 {
		it := b.front()
		if it.call != nil {
			order = append(order, it.call.id)
		} else {
			order = append(order, string(it.data))
		}
		b.pop()
	}
	if fmt.Sprint(order) != "[sub 1 3 ctl]" {
		t.Errorf("order %v", order)
	}
	if b.n != 0 || b.bytes != 0 {
		t.Errorf("counters not back to zero: %d %d", b.n, b.bytes)
	}
	var empty outbox
	if !empty.fits(1<<30, 1, 1) {
		t.Error("an empty outbox must take one item of any size")
	}
}

func TestReconnectPolicy(t *testing.T) {
	for _, tc := range []struct {
		err         error
		retry, long bool
	}{
		{&CloseError{Code: protocol.CloseNormal}, false, false},
		{&CloseError{Code: protocol.CloseShutdown}, true, false},
		{&CloseError{Code: protocol.CloseSlowConsumer}, true, false},
		{&CloseError{Code: protocol.CloseTooBig}, true, false},
		{&CloseError{Code: 1006}, true, false},
		{&CloseError{Code: protocol.CloseUnauthorized}, false, false},
		{&CloseError{Code: protocol.CloseForbidden}, false, false},
		{&CloseError{Code: 4499}, false, false},
		{&CloseError{Code: protocol.CloseRateLimited}, true, true},
		{fmt.Errorf("wrapped: %w", &protocol.Error{Code: protocol.CodeUnauthorized}), false, false},
		{&protocol.Error{Code: protocol.CodeInternal}, true, false},
		{&protocol.Error{Code: protocol.CodeRateLimited}, true, true},
		{&statusError{status: 401, err: errors.New("x")}, false, false},
		{&statusError{status: 503, err: errors.New("x")}, true, false},
		{&statusError{status: 429, err: errors.New("x")}, true, true},
		{ErrHeartbeatTimeout, true, false},
		{errors.New("connection reset"), true, false},
	} {
		retry, long := reconnectPolicy(tc.err)
		if retry != tc.retry || long != tc.long {
			t.Errorf("reconnectPolicy(%v) = %v, %v; want %v, %v", tc.err, retry, long, tc.retry, tc.long)
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{wrap("publish \"t\"", ErrNotConnected), `client: publish "t": not connected`},
		{wrap("ping", &protocol.Error{Code: protocol.CodeTimeout}), `client: ping: switchboard: timeout`},
		{wrap("dial", &CloseError{Code: 4401, Reason: "expired"}), `client: dial: connection closed by the server: 4401 unauthorized: expired`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	err := wrap("request", requestTimeout(errors.New("deadline")))
	if !errors.Is(err, &protocol.Error{Code: protocol.CodeTimeout}) {
		t.Errorf("%v does not match the timeout code", err)
	}
}

func TestDispatcherDropsAndOrder(t *testing.T) {
	var got []string
	c := &Client{}
	c.opts.OnError = func(err error) { got = append(got, err.Error()) }
	c.opts.OnState = func(s State) { got = append(got, s.String()) }
	c.opts.DefaultHandler = func(m *Message) { got = append(got, m.Topic) }
	c.log = discardLogger()
	d := newDispatcher(c, 2)
	c.disp = d
	d.pushState(StateConnected)
	for _, topic := range []string{"a", "b", "c", "d"} {
		d.pushMessage(&Message{Topic: topic})
	}
	d.pushState(StateReconnecting)
	d.finish()
	d.pushState(StateClosed) // after finish: ignored
	d.start()
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		t.Fatal("dispatcher did not finish")
	}
	want := "[connected a b " + ErrSlowConsumer.Error() + ": 2 messages reconnecting]"
	if fmt.Sprint(got) != want {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
