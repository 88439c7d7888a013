package natsengine

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboardhq/switchboard/protocol"
)

func TestSessionTokens(t *testing.T) {
	for _, tc := range []struct{ id, tok string }{
		{"plain-id_1:x", "plain-id_1:x"},
		{"team.a@example", "team%2Ea%40example"},
		{"a.b.c", "a%2Eb%2Ec"},
	} {
		if got := encodeSession(tc.id); got != tc.tok {
			t.Errorf("encode %q = %q, want %q", tc.id, got, tc.tok)
		}
		if got, err := decodeSession(tc.tok); err != nil || got != tc.id {
			t.Errorf("decode %q = %q, %v", tc.tok, got, err)
		}
	}
	for _, bad := range []string{"a%2", "a%2e", "a%41", "a.b", "a*", ">", "a%G1"} {
		if _, err := decodeSession(bad); err == nil {
			t.Errorf("decode %q: no error", bad)
		}
	}
	s := newSubjects("switchboard")
	subj := s.topic("x.y@z", "chat.room")
	if subj != "switchboard.m.x%2Ey%40z.chat.room" {
		t.Fatalf("subject %q", subj)
	}
	if sess, topic, err := s.parse(subj); err != nil || sess != "x.y@z" || topic != "chat.room" {
		t.Fatalf("parse: %q %q %v", sess, topic, err)
	}
}

// FuzzSessionToken: every valid session id maps to one NATS token (no '.',
// no wildcard, no white space) that decodes back to it, and distinct ids
// never share a token.
func FuzzSessionToken(f *testing.F) {
	for _, s := range []string{"a", "team.a@example", "x:y-z_1", "..", "@@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		tok := encodeSession(id)
		if protocol.ValidateSessionID(id) == nil {
			if strings.ContainsAny(tok, ".*> \t\r\n") || tok == "" {
				t.Fatalf("token %q of %q is not one plain NATS token", tok, id)
			}
		}
		back, err := decodeSession(tok)
		if err != nil || back != id {
			t.Fatalf("%q → %q → %q, %v", id, tok, back, err)
		}
		// Decoding arbitrary input never yields a token that re-encodes
		// differently (canonical form): no two tokens for one id.
		if d, err := decodeSession(id); err == nil && encodeSession(d) != id {
			t.Fatalf("%q decodes to %q which encodes to %q", id, d, encodeSession(d))
		}
	})
}

func TestPublishErrConflict(t *testing.T) {
	for _, code := range []jetstream.ErrorCode{jetstream.JSErrCodeStreamWrongLastSequence, errCodeWrongLastSequenceConstant} {
		err := publishErr(&jetstream.APIError{ErrorCode: code, Description: "wrong last sequence: 7"})
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeConflict {
			t.Errorf("code %d: %v", code, err)
		}
	}
	if err := publishErr(errors.New("other")); err.Error() != "other" {
		t.Errorf("other errors change: %v", err)
	}
}
