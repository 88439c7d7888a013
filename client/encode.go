package client

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/switchboardhq/switchboard/protocol"
)

// appendObject appends f as one client → server JSON object. It writes the
// fields a client sends, in the form json.Marshal(f) would, without
// reflection: this is the publish hot path.
func appendObject(dst []byte, f *protocol.Frame) []byte {
	str := func(key, v string) {
		if v != "" {
			dst = append(dst, `,"`...)
			dst = append(dst, key...)
			dst = append(dst, `":`...)
			dst = protocol.AppendString(dst, v)
		}
	}
	dst = append(dst, `{"type":`...)
	dst = protocol.AppendString(dst, f.Type)
	str("id", f.ID)
	str("name", f.Name)
	str("session_id", f.SessionID)
	str("token", f.Token)
	if f.Protocol != 0 {
		dst = append(dst, `,"protocol":`...)
		dst = strconv.AppendInt(dst, int64(f.Protocol), 10)
	}
	if f.Echo != nil {
		dst = append(dst, `,"echo":`...)
		dst = strconv.AppendBool(dst, *f.Echo)
	}
	str("instance", f.Instance)
	str("topic", f.Topic)
	if f.Presence {
		dst = append(dst, `,"presence":true`...)
	}
	if f.AllSessions {
		dst = append(dst, `,"all_sessions":true`...)
	}
	str("reply_to", f.ReplyTo)
	str("to", f.To)
	str("timestamp", f.Timestamp)
	if f.Since != nil {
		dst = append(dst, `,"since":{"seq":`...)
		dst = strconv.AppendUint(dst, f.Since.Seq, 10)
		dst = append(dst, `,"epoch":`...)
		dst = protocol.AppendString(dst, f.Since.Epoch)
		dst = append(dst, '}')
	}
	if f.IfSeq != nil {
		dst = append(dst, `,"if_seq":`...)
		dst = strconv.AppendUint(dst, *f.IfSeq, 10)
	}
	if f.TimeoutMS != 0 {
		dst = append(dst, `,"timeout_ms":`...)
		dst = strconv.AppendInt(dst, f.TimeoutMS, 10)
	}
	if f.Payload != nil {
		dst = append(dst, `,"payload":`...)
		dst = append(dst, f.Payload...)
	}
	return append(dst, '}')
}

var jsonNull = json.RawMessage("null")

// marshalPayload turns a payload argument into one compact JSON value:
// json.RawMessage and []byte are taken as JSON text (validated, compacted
// when they hold a newline), nil is null, anything else goes through
// encoding/json.
func marshalPayload(v any) (json.RawMessage, error) {
	var raw []byte
	switch p := v.(type) {
	case nil:
		return jsonNull, nil
	case json.RawMessage:
		raw = p
	case []byte:
		raw = p
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return b, nil // json.Marshal's output is compact
	}
	if !json.Valid(raw) {
		return nil, ErrInvalidPayload
	}
	if bytes.IndexByte(raw, '\n') >= 0 {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, ErrInvalidPayload
		}
		raw = b.Bytes()
	}
	return raw, nil
}
