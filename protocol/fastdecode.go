package protocol

// decodeFast is Decode's fast path for the common shape of client objects
// (hello, subscribe, unsubscribe, ping, …): one flat object whose keys are
// spelled exactly like Frame's JSON names and whose values are plain strings
// (printable ASCII, no escapes), small non-negative integers or booleans.
// It fills f and reports true only when obj has that shape, and then f is
// exactly what encoding/json would have produced. Anything else (payload,
// since, if_seq, escapes, non-ASCII, null, unknown or differently cased
// keys, any syntax error) makes it report false, and Decode falls back to
// encoding/json, whose result and errors stay the reference. FuzzDecodeFast
// checks the two agree.
//
// It avoids encoding/json's reflection: no allocation beyond the strings
// themselves, and the type names are not allocated either.
func decodeFast(obj []byte, f *Frame) bool {
	*f = Frame{}
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipWS(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		i++
	} else {
		for {
			// Key.
			ks, ke, ok := scanPlainString(obj, i)
			if !ok {
				return false
			}
			i = skipWS(obj, ke+1)
			if i >= len(obj) || obj[i] != ':' {
				return false
			}
			i = skipWS(obj, i+1)
			if i, ok = decodeFastField(obj, obj[ks:ke], i, f); !ok {
				return false
			}
			i = skipWS(obj, i)
			if i >= len(obj) {
				return false
			}
			if obj[i] == '}' {
				i++
				break
			}
			if obj[i] != ',' {
				return false
			}
			i = skipWS(obj, i+1)
		}
	}
	return skipWS(obj, i) == len(obj)
}

// decodeFastField decodes the value at obj[i:] into the field named key and
// returns the index after the value.
func decodeFastField(obj, key []byte, i int, f *Frame) (int, bool) {
	var dst *string
	switch string(key) { // no allocation: compared in place
	case "type":
		s, e, ok := scanPlainString(obj, i)
		if !ok {
			return 0, false
		}
		f.Type = typeName(obj[s:e])
		return e + 1, true
	case "id":
		dst = &f.ID
	case "name":
		dst = &f.Name
	case "session_id":
		dst = &f.SessionID
	case "token":
		dst = &f.Token
	case "instance":
		dst = &f.Instance
	case "topic":
		dst = &f.Topic
	case "timestamp":
		dst = &f.Timestamp
	case "reply_to":
		dst = &f.ReplyTo
	case "to":
		dst = &f.To
	case "protocol":
		n, e, ok := scanSmallInt(obj, i)
		if !ok {
			return 0, false
		}
		f.Protocol = n
		return e, true
	case "echo":
		b, e, ok := scanBool(obj, i)
		if !ok {
			return 0, false
		}
		f.Echo = &b
		return e, true
	case "presence":
		b, e, ok := scanBool(obj, i)
		if !ok {
			return 0, false
		}
		f.Presence = b
		return e, true
	case "all_sessions":
		b, e, ok := scanBool(obj, i)
		if !ok {
			return 0, false
		}
		f.AllSessions = b
		return e, true
	default:
		return 0, false
	}
	s, e, ok := scanPlainString(obj, i)
	if !ok {
		return 0, false
	}
	*dst = string(obj[s:e])
	return e + 1, true
}

// typeName returns the constant for a known object type (no allocation),
// else a copy of b.
func typeName(b []byte) string {
	switch string(b) {
	case TypeHello:
		return TypeHello
	case TypeSubscribe:
		return TypeSubscribe
	case TypeUnsubscribe:
		return TypeUnsubscribe
	case TypePublish:
		return TypePublish
	case TypeRequest:
		return TypeRequest
	case TypeReply:
		return TypeReply
	case TypeSend:
		return TypeSend
	case TypePing:
		return TypePing
	case TypePresence:
		return TypePresence
	}
	return string(b)
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanPlainString scans a JSON string at b[i] made of printable ASCII
// without escapes, and returns the bounds of its content: b[s:e], with
// b[e] the closing quote.
func scanPlainString(b []byte, i int) (s, e int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false
	}
	s = i + 1
	for e = s; e < len(b); e++ {
		switch c := b[e]; {
		case c == '"':
			return s, e, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// scanSmallInt scans 0 or a positive integer of at most 9 digits (no sign,
// fraction or exponent) followed by a delimiter.
func scanSmallInt(b []byte, i int) (n, e int, ok bool) {
	e = i
	for e < len(b) && b[e] >= '0' && b[e] <= '9' {
		n = n*10 + int(b[e]-'0')
		e++
	}
	switch d := e - i; {
	case d == 0 || d > 9:
		return 0, 0, false
	case d > 1 && b[i] == '0':
		return 0, 0, false
	}
	if e < len(b) && !isDelim(b[e]) {
		return 0, 0, false
	}
	return n, e, true
}

// scanBool scans true or false followed by a delimiter.
func scanBool(b []byte, i int) (v bool, e int, ok bool) {
	switch {
	case len(b)-i >= 4 && string(b[i:i+4]) == "true":
		v, e = true, i+4
	case len(b)-i >= 5 && string(b[i:i+5]) == "false":
		v, e = false, i+5
	default:
		return false, 0, false
	}
	if e < len(b) && !isDelim(b[e]) {
		return false, 0, false
	}
	return v, e, true
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}
