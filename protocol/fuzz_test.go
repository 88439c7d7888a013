package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecode feeds arbitrary frames through Split and Decode: they must never
// panic, and every successfully decoded payload must be newline-free JSON.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"hello","name":"a","session_id":"s","protocol":1}`))
	f.Add([]byte("{\"type\":\"publish\",\"topic\":\"a\",\"payload\":{\"x\":\n1}}\n{\"type\":\"ping\"}"))
	f.Add([]byte(`{"type":"subscribe","id":"1","topic":"a.>","since":{"seq":1,"epoch":"e"}}`))
	f.Add([]byte(`publish-json:{"topic":"t","payload":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, []byte(LegacyPublishPrefix)) {
			var fr Frame
			if DecodeLegacyPublish(data, &fr) == nil && len(fr.Payload) > 0 && !json.Valid(fr.Payload) {
				t.Fatalf("legacy payload not valid JSON: %q", fr.Payload)
			}
			return
		}
		_ = Split(data, func(obj []byte) error {
			var fr Frame
			if Decode(obj, &fr) != nil {
				return nil
			}
			if len(fr.Payload) > 0 && (bytes.IndexByte(fr.Payload, '\n') >= 0 || !json.Valid(fr.Payload)) {
				t.Fatalf("payload %q not compact valid JSON", fr.Payload)
			}
			// What we decoded re-encodes as a message that decodes again.
			out := AppendMessage(nil, &Message{Topic: fr.Topic, Payload: fr.Payload, PublisherName: fr.Name, SessionID: fr.SessionID, ReplyTo: fr.ReplyTo})
			var back Frame
			if err := Decode(out, &back); err != nil {
				t.Fatalf("re-encoded %s does not decode: %v", out, err)
			}
			return nil
		})
	})
}

// FuzzMatch checks Match against a simple reference on valid inputs.
func FuzzMatch(f *testing.F) {
	f.Add("a.*.>", "a.b.c")
	f.Add(">", "$meta.e2e")
	f.Add("$meta.*", "$meta.e2e")
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		if _, err := ValidatePattern(pattern); err != nil {
			return
		}
		if ValidateTopic(topic) != nil {
			return
		}
		if got, want := Match(pattern, topic), refMatch(pattern, topic); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference %v", pattern, topic, got, want)
		}
	})
}

func refMatch(pattern, topic string) bool {
	ps, ts := bytes.Split([]byte(pattern), []byte(".")), bytes.Split([]byte(topic), []byte("."))
	if IsReserved(topic) && (ps[0][0] == '*' || ps[0][0] == '>') {
		return false
	}
	for i, p := range ps {
		if string(p) == ">" {
			return len(ts) > i
		}
		if i >= len(ts) || (string(p) != "*" && !bytes.Equal(p, ts[i])) {
			return false
		}
	}
	return len(ps) == len(ts)
}

// FuzzAppendString checks AppendString always yields a JSON string that
// decodes to what encoding/json would produce.
func FuzzAppendString(f *testing.F) {
	f.Add("hello\n\"\\\x00\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, out, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Fatalf("AppendString(%q) decodes to %q, want %q", s, got, wantS)
		}
	})
}
