package natsengine

import (
	"strings"
	"testing"
)

func TestBridgeConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg BridgeConfig
		ok  bool
	}{
		{BridgeConfig{Prefix: "sb"}, true},
		{BridgeConfig{Prefix: "acme.sb", Sessions: []string{"*", "team-*", "a.b@c"}, Topics: []string{"chat.>", "svc.*", "x"}}, true},
		{BridgeConfig{Prefix: ""}, false},
		{BridgeConfig{Prefix: "sb.>"}, false},
		{BridgeConfig{Prefix: "s b"}, false},
		{BridgeConfig{Prefix: "$sb"}, false},
		{BridgeConfig{Prefix: "_INBOX"}, false},
		{BridgeConfig{Prefix: "_INBOX.sb"}, false},
		{BridgeConfig{Prefix: "switchboard"}, false},   // the engine's own subjects
		{BridgeConfig{Prefix: "switchboard.m"}, false}, // under them
		{BridgeConfig{Prefix: "switchboardx"}, true},   // a different token
		{BridgeConfig{Prefix: "sb", Sessions: []string{""}}, false},
		{BridgeConfig{Prefix: "sb", Sessions: []string{"a*b"}}, false},
		{BridgeConfig{Prefix: "sb", Sessions: []string{"a b"}}, false},
		{BridgeConfig{Prefix: "sb", Topics: []string{"$meta.>"}}, false},
		{BridgeConfig{Prefix: "sb", Topics: []string{"a.>.b"}}, false},
		{BridgeConfig{Prefix: "sb", Topics: []string{""}}, false},
	} {
		err := tc.cfg.Validate("")
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err = %v, want ok %v", tc.cfg, err, tc.ok)
		}
	}
	if err := (&BridgeConfig{Prefix: "sb"}).Validate("sb.internal"); err == nil {
		t.Error("a bridge prefix above the engine's was accepted")
	}
}

func TestBridgeMatches(t *testing.T) {
	all := newBridge(BridgeConfig{Prefix: "sb"})
	some := newBridge(BridgeConfig{Prefix: "sb", Sessions: []string{"team.*", "solo"}, Topics: []string{"chat.>", "svc.*"}})
	var none *bridge
	for _, tc := range []struct {
		b              *bridge
		session, topic string
		want           bool
	}{
		{all, "s", "chat", true},
		{all, "s", "$meta.e2e", false}, // reserved: never
		{all, "s", "$sys.x", false},
		{some, "team.a", "chat.room", true},
		{some, "team.", "svc.echo", true},
		{some, "team", "chat.room", false},
		{some, "solo", "chat.a.b", true},
		{some, "solo2", "chat.room", false},
		{some, "solo", "chat", false},
		{some, "solo", "svc.a.b", false},
		{some, "team.a", "$meta.x", false},
		{none, "s", "chat", false},
	} {
		if got := tc.b.bridged(tc.session, tc.topic); got != tc.want {
			t.Errorf("bridged(%q, %q) = %v, want %v", tc.session, tc.topic, got, tc.want)
		}
	}
}

func TestBridgeSubjects(t *testing.T) {
	b := newBridge(BridgeConfig{Prefix: "acme.sb"})
	for _, s := range []string{"plain", "team.a@example.com", "a:b-c_d", "x%y", "with space"} {
		subject := b.subject(s, "chat.room")
		if strings.Count(subject, ".") != 4 {
			t.Errorf("subject(%q) = %q: the session is not one token", s, subject)
		}
		session, topic, ok := b.parse(subject)
		if s == "x%y" || s == "with space" { // not session ids
			if ok {
				t.Errorf("parse(%q) accepted an invalid session id", subject)
			}
			continue
		}
		if !ok || session != s || topic != "chat.room" {
			t.Errorf("parse(subject(%q)) = %q, %q, %v", s, session, topic, ok)
		}
	}
	for _, subject := range []string{
		"acme.sb.s", "acme.sb.s.", "acme.sb..t", "other.s.t", "acme.sb.s.a.*", "acme.sb.s.a.>",
		"acme.sb.%2e.t", // not canonical
		"acme.sb.s.$sys.x",
	} {
		if s, topic, ok := b.parse(subject); ok {
			t.Errorf("parse(%q) = %q, %q: want refused", subject, s, topic)
		}
	}
}

func TestBridgePayload(t *testing.T) {
	b := newBridge(BridgeConfig{Prefix: "sb", MaxPayload: 16})
	for in, want := range map[string]string{
		`1`:                   `1`,
		" {\"a\" : [1, 2]}\n": `{"a":[1,2]}`,
		"\"x\\ny\"":           "\"x\\ny\"",
		``:                    ``,
		`hello`:               ``,
		`1 2`:                 ``,
		`{"a":1`:              ``,
		`"0123456789abcdef"`:  ``, // too large
	} {
		got, why := b.payload([]byte(in))
		if string(got) != want || (why == "") != (want != "") {
			t.Errorf("payload(%q) = %q, %q; want %q", in, got, why, want)
		}
	}
}

func TestReplySubjectOK(t *testing.T) {
	e := &Engine{cfg: Config{Prefix: "switchboard"}, br: newBridge(BridgeConfig{Prefix: "sb"})}
	for s, want := range map[string]bool{
		"_INBOX.abc.1":            true,
		"reply.here":              true,
		"":                        false,
		"$JS.API.STREAM.DELETE.X": false,
		"$SYS.REQ":                false,
		"switchboard.m.s.t":       false,
		"switchboard":             false,
		"sb.s.t":                  false,
		"sbx.s":                   true,
	} {
		if got := e.replySubjectOK(s); got != want {
			t.Errorf("replySubjectOK(%q) = %v, want %v", s, got, want)
		}
	}
}
