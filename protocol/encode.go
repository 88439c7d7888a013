package protocol

import (
	"strconv"
	"unicode/utf8"
)

// Message is a server → client "message" object, the hot path of the
// server: it is encoded once per publish with AppendMessage and the same
// bytes are queued to every subscriber.
type Message struct {
	Topic         string
	Payload       []byte // one compact JSON value
	PublisherName string
	Timestamp     string
	SessionID     string
	Seq           uint64 // 0: absent (request, send, broadcast)
	ReplyTo       string
	From          string
}

// AppendMessage appends m as one JSON object (no trailing newline).
func AppendMessage(dst []byte, m *Message) []byte {
	dst = append(dst, `{"type":"message","topic":`...)
	dst = AppendString(dst, m.Topic)
	dst = append(dst, `,"payload":`...)
	if len(m.Payload) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, m.Payload...)
	}
	dst = append(dst, `,"publisher_name":`...)
	dst = AppendString(dst, m.PublisherName)
	dst = append(dst, `,"timestamp":`...)
	dst = AppendString(dst, m.Timestamp)
	dst = append(dst, `,"session_id":`...)
	dst = AppendString(dst, m.SessionID)
	if m.Seq != 0 {
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, m.Seq, 10)
	}
	if m.ReplyTo != "" {
		dst = append(dst, `,"reply_to":`...)
		dst = AppendString(dst, m.ReplyTo)
	}
	if m.From != "" {
		dst = append(dst, `,"from":`...)
		dst = AppendString(dst, m.From)
	}
	return append(dst, '}')
}

// Ack is an "ack" object. Seq is written when HasSeq is set (a publish, or a
// subscribe to a topic without wildcards, where it may be 0).
type Ack struct {
	ID        string
	HasSeq    bool
	Seq       uint64
	Epoch     string // subscribe to a concrete topic
	Recovered *bool  // subscribe with since
	Reason    string // subscribe with since, not recovered: a Reason* constant
	Duplicate bool   // publish: an earlier publish with this id was stored (seq is its)
}

// AppendAck appends a as one JSON object.
func AppendAck(dst []byte, a *Ack) []byte {
	dst = append(dst, `{"type":"ack","id":`...)
	dst = AppendString(dst, a.ID)
	if a.HasSeq {
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, a.Seq, 10)
	}
	if a.Epoch != "" {
		dst = append(dst, `,"epoch":`...)
		dst = AppendString(dst, a.Epoch)
	}
	if a.Recovered != nil {
		dst = append(dst, `,"recovered":`...)
		dst = strconv.AppendBool(dst, *a.Recovered)
	}
	if a.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = AppendString(dst, a.Reason)
	}
	if a.Duplicate {
		dst = append(dst, `,"duplicate":true`...)
	}
	return append(dst, '}')
}

// AppendError appends an "error" object; id is omitted when empty.
func AppendError(dst []byte, id string, code Code, message string) []byte {
	dst = append(dst, `{"type":"error"`...)
	if id != "" {
		dst = append(dst, `,"id":`...)
		dst = AppendString(dst, id)
	}
	dst = append(dst, `,"code":`...)
	dst = AppendString(dst, string(code))
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, message)
	return append(dst, '}')
}

// AppendPong appends a "pong" object; id is omitted when empty.
func AppendPong(dst []byte, id string) []byte {
	dst = append(dst, `{"type":"pong"`...)
	if id != "" {
		dst = append(dst, `,"id":`...)
		dst = AppendString(dst, id)
	}
	return append(dst, '}')
}

// AppendResponse appends a "response" object: the first reply to a request.
func AppendResponse(dst []byte, id string, payload []byte, publisherName, timestamp string) []byte {
	dst = append(dst, `{"type":"response","id":`...)
	dst = AppendString(dst, id)
	dst = append(dst, `,"payload":`...)
	if len(payload) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, payload...)
	}
	dst = append(dst, `,"publisher_name":`...)
	dst = AppendString(dst, publisherName)
	dst = append(dst, `,"timestamp":`...)
	dst = AppendString(dst, timestamp)
	return append(dst, '}')
}

// Welcome is the server's answer to hello.
type Welcome struct {
	ClientID      string
	Name          string
	SessionID     string
	Server        string
	HeartbeatMS   int64
	MaxFrameBytes int64
}

// AppendWelcome appends a "welcome" object.
func AppendWelcome(dst []byte, w *Welcome) []byte {
	dst = append(dst, `{"type":"welcome","client_id":`...)
	dst = AppendString(dst, w.ClientID)
	dst = append(dst, `,"name":`...)
	dst = AppendString(dst, w.Name)
	dst = append(dst, `,"session_id":`...)
	dst = AppendString(dst, w.SessionID)
	dst = append(dst, `,"protocol":`...)
	dst = strconv.AppendInt(dst, Version, 10)
	dst = append(dst, `,"server":`...)
	dst = AppendString(dst, w.Server)
	dst = append(dst, `,"heartbeat_ms":`...)
	dst = strconv.AppendInt(dst, w.HeartbeatMS, 10)
	dst = append(dst, `,"max_frame_bytes":`...)
	dst = strconv.AppendInt(dst, w.MaxFrameBytes, 10)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as encoding/json does:
// control characters, '"' and '\\' escaped, invalid UTF-8 replaced by
// U+FFFD, and U+2028/U+2029 escaped so the output is safe in JavaScript.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
