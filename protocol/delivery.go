package protocol

import "errors"

// Reasons a subscribe with since was answered with "recovered":false, in
// the ack's "reason" field (an addition to PROTOCOL.md).
const (
	// ReasonEpochChanged: the stream is not the one the client knew (its
	// history was lost, or it expired and started again): since.epoch is
	// not the current epoch, or since.seq is ahead of the stream.
	ReasonEpochChanged = "epoch_changed"
	// ReasonTooFarBehind: some messages after since.seq are no longer
	// retained (count or age limit), or replaying them would overflow the
	// connection's outgoing queue.
	ReasonTooFarBehind = "too_far_behind"
	// ReasonNoHistory: the topic keeps no history (server configuration).
	ReasonNoHistory = "no_history"
)

// Presence event kinds ("event" of a presence_event object).
const (
	PresenceJoin  = "join"
	PresenceLeave = "leave"
)

// MaxInstanceBytes bounds hello's instance.
const MaxInstanceBytes = 64

// ErrInvalidInstance reports an instance that is not 1-64 printable ASCII
// characters.
var ErrInvalidInstance = errors.New("protocol: invalid instance: 1-64 printable ASCII characters")

// ValidateInstance checks hello's optional instance: 1-64 printable ASCII
// characters (no space).
func ValidateInstance(s string) error {
	if len(s) == 0 || len(s) > MaxInstanceBytes {
		return ErrInvalidInstance
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return ErrInvalidInstance
		}
	}
	return nil
}

// PresenceClient is one subscriber in a presence answer.
type PresenceClient struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
}

// AppendPresence appends a "presence" answer: the clients subscribed to
// topic (an empty list when none).
func AppendPresence(dst []byte, id, topic string, clients []PresenceClient) []byte {
	dst = append(dst, `{"type":"presence","id":`...)
	dst = AppendString(dst, id)
	dst = append(dst, `,"topic":`...)
	dst = AppendString(dst, topic)
	dst = append(dst, `,"clients":[`...)
	for i, c := range clients {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"client_id":`...)
		dst = AppendString(dst, c.ClientID)
		dst = append(dst, `,"name":`...)
		dst = AppendString(dst, c.Name)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// AppendPresenceEvent appends a "presence_event" object: client (id and
// name) joined or left topic (event is PresenceJoin or PresenceLeave).
func AppendPresenceEvent(dst []byte, topic, event, clientID, name string) []byte {
	dst = append(dst, `{"type":"presence_event","topic":`...)
	dst = AppendString(dst, topic)
	dst = append(dst, `,"event":`...)
	dst = AppendString(dst, event)
	dst = append(dst, `,"client_id":`...)
	dst = AppendString(dst, clientID)
	dst = append(dst, `,"name":`...)
	dst = AppendString(dst, name)
	return append(dst, '}')
}
