package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The delivery objects decode back into what was encoded.
func TestDeliveryObjects(t *testing.T) {
	var f Frame
	b := AppendPresence(nil, "q", "room", []PresenceClient{{ClientID: "c_1", Name: "a\"b"}, {ClientID: "c_2", Name: "c"}})
	if err := Decode(b, &f); err != nil || f.Type != TypePresence || f.ID != "q" || f.Topic != "room" ||
		!reflect.DeepEqual(f.Clients, []PresenceClient{{"c_1", "a\"b"}, {"c_2", "c"}}) {
		t.Fatalf("presence %s → %+v %v", b, f, err)
	}
	if b := AppendPresence(nil, "q", "room", nil); string(b) != `{"type":"presence","id":"q","topic":"room","clients":[]}` {
		t.Fatalf("empty presence %s", b)
	}
	b = AppendPresenceEvent(nil, "room", PresenceLeave, "c_1", "alice")
	if err := Decode(b, &f); err != nil || f.Type != TypePresenceEvent || f.Event != "leave" || f.ClientID != "c_1" || f.Name != "alice" || f.Topic != "room" {
		t.Fatalf("presence_event %s → %+v %v", b, f, err)
	}
	no := false
	b = AppendAck(nil, &Ack{ID: "s", HasSeq: true, Seq: 3, Epoch: "e", Recovered: &no, Reason: ReasonTooFarBehind})
	if string(b) != `{"type":"ack","id":"s","seq":3,"epoch":"e","recovered":false,"reason":"too_far_behind"}` {
		t.Fatalf("ack %s", b)
	}
	b = AppendAck(nil, &Ack{ID: "p", HasSeq: true, Seq: 9, Duplicate: true})
	if err := Decode(b, &f); err != nil || !f.Duplicate || f.SeqValue() != 9 || !json.Valid(b) {
		t.Fatalf("duplicate ack %s → %+v", b, f)
	}
	for in, ok := range map[string]bool{"a": true, "inst-1_X.y": true, "": false, "has space": false, "tab\t": false, "é": false,
		"0123456789012345678901234567890123456789012345678901234567890123": true, "01234567890123456789012345678901234567890123456789012345678901234": false} {
		if (ValidateInstance(in) == nil) != ok {
			t.Errorf("ValidateInstance(%q) ok = %v", in, !ok)
		}
	}
}
