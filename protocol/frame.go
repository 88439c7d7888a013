package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the protocol version carried in hello and welcome.
const Version = 1

// Subprotocol is the WebSocket subprotocol a client may offer.
const Subprotocol = "switchboard.v1"

// Defaults (PROTOCOL.md, "Transport").
const (
	DefaultMaxFrameBytes    = 64 << 10  // largest frame a client may send
	DefaultMaxSubscriptions = 100       // subscriptions per connection
	MaxBatchBytes           = 256 << 10 // a batched server frame holds at most this many bytes of objects
	ClientMaxFrameBytes     = 1 << 20   // what clients should accept from the server, at least
	DefaultHelloTimeout     = 10 * time.Second
	DefaultHeartbeat        = 25 * time.Second
	DefaultRequestTimeout   = 5 * time.Second
	MaxRequestTimeout       = 60 * time.Second
)

// Object types.
const (
	TypeHello       = "hello"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypePublish     = "publish"
	TypeRequest     = "request"
	TypeReply       = "reply"
	TypeSend        = "send"
	TypePing        = "ping"
	// TypePresence asks who is subscribed to a topic; the server answers
	// with a presence object of the same id.
	TypePresence = "presence"

	TypeWelcome  = "welcome"
	TypeMessage  = "message"
	TypeAck      = "ack"
	TypeResponse = "response"
	TypeError    = "error"
	TypePong     = "pong"
	// TypePresenceEvent tells a subscriber that asked for presence events
	// that another client joined or left the topic.
	TypePresenceEvent = "presence_event"
)

// LegacyPublishPrefix starts the original framework's browser publish form:
// "publish-json:" followed by {"publisher_name","topic","payload","timestamp","session_id"}.
const LegacyPublishPrefix = "publish-json:"

// ServerPublisher is the publisher_name of messages an operator sends
// without naming one.
const ServerPublisher = "$server"

// Since asks a subscribe to recover history after seq in the given epoch.
type Since struct {
	Seq   uint64 `json:"seq"`
	Epoch string `json:"epoch"`
}

// Frame is any protocol object, client → server or server → client. Fields
// that do not belong to a type are ignored for it. Decode fills it from JSON;
// json.Marshal of a Frame produces a valid object for the client-side types.
type Frame struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`

	// hello and welcome
	Name      string `json:"name,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	Token     string `json:"token,omitempty"`
	Protocol  int    `json:"protocol,omitempty"`
	Echo      *bool  `json:"echo,omitempty"`
	Instance  string `json:"instance,omitempty"` // the publisher instance whose publish ids the server de-duplicates

	// subscribe, unsubscribe, publish, request, reply, send, message
	Topic       string          `json:"topic,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	Timestamp   string          `json:"timestamp,omitempty"`
	Since       *Since          `json:"since,omitempty"`
	IfSeq       *uint64         `json:"if_seq,omitempty"`
	TimeoutMS   int64           `json:"timeout_ms,omitempty"`
	ReplyTo     string          `json:"reply_to,omitempty"`
	To          string          `json:"to,omitempty"`
	Presence    bool            `json:"presence,omitempty"`     // subscribe: send presence_event objects for the topic
	AllSessions bool            `json:"all_sessions,omitempty"` // subscribe, unsubscribe: a service connection's subscription in every session

	// server → client
	ClientID      string           `json:"client_id,omitempty"`
	Server        string           `json:"server,omitempty"`
	HeartbeatMS   int64            `json:"heartbeat_ms,omitempty"`
	MaxFrameBytes int64            `json:"max_frame_bytes,omitempty"`
	PublisherName string           `json:"publisher_name,omitempty"`
	From          string           `json:"from,omitempty"`
	Seq           *uint64          `json:"seq,omitempty"`
	Epoch         string           `json:"epoch,omitempty"`
	Recovered     *bool            `json:"recovered,omitempty"`
	Reason        string           `json:"reason,omitempty"`    // ack of a subscribe with since and recovered false
	Duplicate     bool             `json:"duplicate,omitempty"` // ack of a publish already stored under its id
	Clients       []PresenceClient `json:"clients,omitempty"`   // presence answer
	Event         string           `json:"event,omitempty"`     // presence_event: join or leave
	Code          Code             `json:"code,omitempty"`
	Message       string           `json:"message,omitempty"`
}

// SeqValue returns Seq, or 0 when absent.
func (f *Frame) SeqValue() uint64 {
	if f.Seq == nil {
		return 0
	}
	return *f.Seq
}

// Err returns the protocol error an error frame carries, or nil for any other
// type.
func (f *Frame) Err() *Error {
	if f.Type != TypeError {
		return nil
	}
	return &Error{Code: f.Code, Message: f.Message, ID: f.ID}
}

// Decoding errors.
var (
	ErrMalformed   = errors.New("protocol: malformed JSON object")
	ErrMissingType = errors.New("protocol: missing type")
)

// Split calls fn for each newline-separated object of a frame, skipping empty
// lines. It stops at the first error fn returns.
func Split(frame []byte, fn func(obj []byte) error) error {
	for len(frame) > 0 {
		i := bytes.IndexByte(frame, '\n')
		var obj []byte
		if i < 0 {
			obj, frame = frame, nil
		} else {
			obj, frame = frame[:i], frame[i+1:]
		}
		obj = bytes.TrimRight(obj, "\r")
		if len(bytes.TrimSpace(obj)) == 0 {
			continue
		}
		if err := fn(obj); err != nil {
			return err
		}
	}
	return nil
}

// Decode parses one JSON object into f (which it resets first). Its payload,
// if any, is compacted so that it holds no newline and can be re-sent inside
// a newline-delimited frame. The returned error wraps ErrMalformed or is
// ErrMissingType; the id is recovered when possible so that an error reply
// can carry it.
func Decode(obj []byte, f *Frame) error {
	if decodeFast(obj, f) { // the common flat objects, without reflection
		if f.Type == "" {
			return ErrMissingType
		}
		return nil
	}
	return decodeJSON(obj, f)
}

// decodeJSON is Decode through encoding/json: the reference behaviour.
func decodeJSON(obj []byte, f *Frame) error {
	*f = Frame{}
	if err := json.Unmarshal(obj, f); err != nil {
		var probe struct {
			ID any `json:"id"`
		}
		*f = Frame{}
		if json.Unmarshal(obj, &probe) == nil {
			if s, ok := probe.ID.(string); ok {
				f.ID = s
			}
		}
		return fmt.Errorf("%w: %s", ErrMalformed, jsonErrorText(err))
	}
	if f.Type == "" {
		return ErrMissingType
	}
	if len(f.Payload) > 0 && bytes.IndexByte(f.Payload, '\n') >= 0 {
		var b bytes.Buffer
		if err := json.Compact(&b, f.Payload); err != nil {
			return fmt.Errorf("%w: payload: %v", ErrMalformed, err)
		}
		f.Payload = b.Bytes()
	}
	return nil
}

// jsonErrorText turns an encoding/json error into a short message that does
// not echo large inputs back.
func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s", te.Field, te.Type.String())
		}
		return "expected a JSON object"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "invalid JSON"
}

// LegacyPublish is the original framework's publish object.
type LegacyPublish struct {
	PublisherName string          `json:"publisher_name"`
	Topic         string          `json:"topic"`
	Payload       json.RawMessage `json:"payload"`
	Timestamp     string          `json:"timestamp"`
	SessionID     string          `json:"session_id"`
}

// DecodeLegacyPublish parses a "publish-json:{…}" frame into a publish Frame.
// The publisher_name it carries is ignored: the server stamps its own.
func DecodeLegacyPublish(frame []byte, f *Frame) error {
	*f = Frame{}
	rest, ok := bytes.CutPrefix(frame, []byte(LegacyPublishPrefix))
	if !ok {
		return fmt.Errorf("%w: missing %q prefix", ErrMalformed, LegacyPublishPrefix)
	}
	var lp LegacyPublish
	if err := json.Unmarshal(bytes.TrimSpace(rest), &lp); err != nil {
		return fmt.Errorf("%w: %s", ErrMalformed, jsonErrorText(err))
	}
	f.Type = TypePublish
	f.Topic = lp.Topic
	f.Payload = lp.Payload
	f.Timestamp = lp.Timestamp
	f.SessionID = lp.SessionID
	if len(f.Payload) > 0 && bytes.IndexByte(f.Payload, '\n') >= 0 {
		var b bytes.Buffer
		if err := json.Compact(&b, f.Payload); err != nil {
			return fmt.Errorf("%w: payload: %v", ErrMalformed, err)
		}
		f.Payload = b.Bytes()
	}
	return nil
}

// ValidateTimestamp checks an RFC 3339 timestamp.
func ValidateTimestamp(ts string) error {
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return errors.New("protocol: timestamp must be RFC 3339")
	}
	return nil
}

// FormatTimestamp formats t as the server stamps messages: RFC 3339 in UTC
// with millisecond precision.
func FormatTimestamp(t time.Time) string {
	return string(AppendTimestamp(nil, t))
}

// AppendTimestamp appends t formatted like FormatTimestamp.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
}
