package natsengine

import (
	"errors"
	"strings"
)

// Subjects. A message of topic T in session S is stored under
//
//	<prefix>.m.<enc(S)>.<T>
//
// Topics map as they are: their tokens ([A-Za-z0-9_:-], a leading '$' on
// the first) are NATS tokens, and the protocol's '*' and '>' are NATS's
// wildcards with the same meaning. Session ids may hold '.' and '@' (and
// NATS gives '.', '*', '>' and white space meaning), so enc escapes every
// byte outside [A-Za-z0-9_:-] as %XX (upper-case hex): reversible, one
// token, and never a wildcard.

// encodeSession returns the subject token for a session id.
func encodeSession(id string) string {
	n := 0
	for i := 0; i < len(id); i++ {
		if !plain(id[i]) {
			n++
		}
	}
	if n == 0 {
		return id
	}
	var b strings.Builder
	b.Grow(len(id) + 2*n)
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(id); i++ {
		c := id[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

var errBadToken = errors.New("natsengine: malformed session token")

// decodeSession reverses encodeSession.
func decodeSession(tok string) (string, error) {
	if !strings.Contains(tok, "%") {
		for i := 0; i < len(tok); i++ {
			if !plain(tok[i]) {
				return "", errBadToken
			}
		}
		return tok, nil
	}
	b := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case plain(c):
			b = append(b, c)
		case c == '%' && i+2 < len(tok):
			hi, ok1 := unhex(tok[i+1])
			lo, ok2 := unhex(tok[i+2])
			v := hi<<4 | lo
			if !ok1 || !ok2 || plain(v) {
				return "", errBadToken // not canonical
			}
			b = append(b, v)
			i += 2
		default:
			return "", errBadToken
		}
	}
	return string(b), nil
}

func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == ':'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// subjects builds and parses one engine's subjects.
type subjects struct {
	msgs string // "<prefix>.m."
}

func newSubjects(prefix string) subjects { return subjects{msgs: prefix + ".m."} }

// session returns the subject prefix of a session's messages, with the
// trailing dot.
func (s subjects) session(id string) string { return s.msgs + encodeSession(id) + "." }

// topic returns the subject of a session's topic (or pattern).
func (s subjects) topic(session, topic string) string { return s.session(session) + topic }

// parse splits a message subject into session and topic.
func (s subjects) parse(subject string) (session, topic string, err error) {
	rest, ok := strings.CutPrefix(subject, s.msgs)
	if !ok {
		return "", "", errBadToken
	}
	tok, topic, ok := strings.Cut(rest, ".")
	if !ok || topic == "" {
		return "", "", errBadToken
	}
	session, err = decodeSession(tok)
	return session, topic, err
}
