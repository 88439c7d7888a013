package bench

import (
	"bytes"
	"strconv"
	"time"
)

// Clock hands out send stamps: Unix nanoseconds that advance with the
// monotonic clock, so a wall-clock step during a run does not show up as
// latency. Publishers and subscribers of one run share one Clock.
type Clock struct {
	base     time.Time
	baseUnix int64
}

// NewClock returns a Clock anchored at the current time.
func NewClock() Clock {
	now := time.Now()
	return Clock{base: now, baseUnix: now.UnixNano()}
}

// Now returns the current stamp.
func (c Clock) Now() int64 { return c.baseUnix + int64(time.Since(c.base)) }

// MinPayload is the smallest payload that holds a stamp: a JSON string of
// 19 digits.
const MinPayload = 21

// MaxPayload keeps a publish within the server's default 64 KiB frame limit.
const MaxPayload = 60 << 10

// AppendPayload appends a JSON string value of exactly size bytes (at least
// MinPayload) that starts with the decimal stamp and is padded with 'x':
// "1723456789012345678xxxx".
func AppendPayload(dst []byte, stamp int64, size int) []byte {
	start := len(dst)
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, stamp, 10)
	for len(dst)-start < size-1 {
		dst = append(dst, 'x')
	}
	return append(dst, '"')
}

var (
	payloadKey      = []byte(`"payload":"`)
	payloadKeyComma = []byte(`,"payload":"`)
	msgTopicPrefix  = []byte(`{"type":"message","topic":"`)
)

// PayloadStamp finds the stamp in an encoded object carrying a payload made
// by AppendPayload (a message or a response) without decoding the object.
func PayloadStamp(obj []byte) (int64, bool) {
	// Fast path, a message as encoded by the server (and the relay):
	// {"type":"message","topic":"T","payload":"…
	var rest []byte
	if t, ok := bytes.CutPrefix(obj, msgTopicPrefix); ok {
		if q := bytes.IndexByte(t, '"'); q >= 0 {
			rest, _ = bytes.CutPrefix(t[q+1:], payloadKeyComma)
		}
	}
	if rest == nil {
		i := bytes.Index(obj, payloadKey)
		if i < 0 {
			return 0, false
		}
		rest = obj[i+len(payloadKey):]
	}
	var v int64
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int64(c-'0')
		n++
	}
	if n == 0 || n > 19 {
		return 0, false
	}
	return v, true
}

// field returns the raw value of the JSON string field key (given as
// `"key":"`) in obj, without unescaping: enough for the ids, types and
// reply_to values this tool reads, which never hold escapes.
func field(obj, key []byte) []byte {
	i := bytes.Index(obj, key)
	if i < 0 {
		return nil
	}
	v := obj[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

var (
	typeKey    = []byte(`"type":"`)
	idKey      = []byte(`"id":"`)
	codeKey    = []byte(`"code":"`)
	replyToKey = []byte(`"reply_to":"`)
	msgPrefix  = []byte(`{"type":"message",`)
)

// objType returns the type of an encoded object; messages, by far the most
// common, are recognised by their prefix.
// Compare the result with string(...) in a switch: that does not allocate.
func objType(obj []byte) []byte {
	if bytes.HasPrefix(obj, msgPrefix) {
		return msgType
	}
	return field(obj, typeKey)
}

var msgType = []byte("message")
