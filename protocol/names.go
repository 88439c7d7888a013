package protocol

import (
	"errors"
	"strings"
)

// Limits on names (PROTOCOL.md, "Names").
const (
	MaxNameLen      = 64  // client name, characters
	MaxSessionIDLen = 128 // session id, characters
	MaxTopicLen     = 256 // topic or pattern, bytes
	MaxIDLen        = 64  // client-chosen object id, bytes
)

// Reserved topics the protocol names.
const (
	// MetaPrefix starts the retained, compare-and-set metadata topics.
	MetaPrefix = "$meta."
	// TopicE2E holds a session's public end-to-end encryption parameters.
	TopicE2E = "$meta.e2e"
)

// Validation errors. They are returned wrapped in nothing: callers put them
// in a bad_request error message as they are.
var (
	ErrInvalidName      = errors.New("protocol: invalid name: 1-64 characters from A-Z a-z 0-9 _ . - @ :")
	ErrInvalidSessionID = errors.New("protocol: invalid session_id: 1-128 characters from A-Z a-z 0-9 _ . - @ :")
	ErrInvalidTopic     = errors.New("protocol: invalid topic: 1-256 bytes of dot-separated tokens from A-Z a-z 0-9 _ - :")
	ErrInvalidPattern   = errors.New("protocol: invalid pattern: a topic whose tokens may be * or a final >")
	ErrWildcardTopic    = errors.New("protocol: wildcards are not allowed here")
	ErrReservedTopic    = errors.New("protocol: reserved topic: only $meta. topics may be used by clients")
	ErrInvalidID        = errors.New("protocol: invalid id: 1-64 bytes")
)

// nameChars and tokenChars are lookup tables for the allowed characters.
var nameChars, tokenChars [256]bool

func init() {
	for c := 'a'; c <= 'z'; c++ {
		nameChars[c], tokenChars[c] = true, true
	}
	for c := 'A'; c <= 'Z'; c++ {
		nameChars[c], tokenChars[c] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		nameChars[c], tokenChars[c] = true, true
	}
	for _, c := range "_-:" {
		nameChars[c], tokenChars[c] = true, true
	}
	nameChars['.'], nameChars['@'] = true, true
}

func validChars(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameChars[s[i]] {
			return false
		}
	}
	return true
}

// ValidateName checks a client name.
func ValidateName(name string) error {
	if !validChars(name, MaxNameLen) {
		return ErrInvalidName
	}
	return nil
}

// ValidateSessionID checks a session id.
func ValidateSessionID(id string) error {
	if !validChars(id, MaxSessionIDLen) {
		return ErrInvalidSessionID
	}
	return nil
}

// ValidateID checks a client-chosen object id.
func ValidateID(id string) error {
	if len(id) == 0 || len(id) > MaxIDLen {
		return ErrInvalidID
	}
	return nil
}

// DefaultSessionID is the session a client joins when it names none.
func DefaultSessionID(name string) string { return "session-" + name }

// IsReserved reports whether a topic or pattern is reserved (its first token
// starts with '$').
func IsReserved(topic string) bool { return len(topic) > 0 && topic[0] == '$' }

// IsMeta reports whether topic is a retained metadata topic ($meta.…).
func IsMeta(topic string) bool { return strings.HasPrefix(topic, MetaPrefix) }

// validTokens checks the dot-separated tokens of s. With wild, a whole token
// may be "*" and the last token ">". It reports whether s is valid and
// whether it holds a wildcard.
func validTokens(s string, wild bool) (ok, hasWild bool) {
	if len(s) == 0 || len(s) > MaxTopicLen {
		return false, false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			continue
		}
		tok := s[start:i]
		switch {
		case len(tok) == 0:
			return false, false
		case wild && tok == "*":
			hasWild = true
		case wild && tok == ">":
			if i != len(s) {
				return false, false
			}
			hasWild = true
		default:
			j := 0
			if start == 0 && tok[0] == '$' {
				j = 1 // a reserved topic's first token starts with '$'
				if len(tok) == 1 {
					return false, false
				}
			}
			for ; j < len(tok); j++ {
				if !tokenChars[tok[j]] {
					return false, false
				}
			}
		}
		start = i + 1
	}
	return true, hasWild
}

// ValidateTopic checks a concrete topic (no wildcards), as used by publish,
// request and send. Reserved topics are syntactically valid here; use
// ValidateClientTopic for what clients may publish to.
func ValidateTopic(topic string) error {
	ok, wild := validTokens(topic, true)
	if !ok {
		return ErrInvalidTopic
	}
	if wild {
		return ErrWildcardTopic
	}
	return nil
}

// ValidateClientTopic checks a concrete topic a client may address: valid,
// and if reserved then a $meta. topic.
func ValidateClientTopic(topic string) error {
	if err := ValidateTopic(topic); err != nil {
		return err
	}
	if IsReserved(topic) && !IsMeta(topic) {
		return ErrReservedTopic
	}
	return nil
}

// ValidatePattern checks a subscription pattern and reports whether it holds
// a wildcard. Reserved patterns other than $meta. ones are refused.
func ValidatePattern(pattern string) (wildcard bool, err error) {
	ok, wild := validTokens(pattern, true)
	if !ok {
		return false, ErrInvalidPattern
	}
	if IsReserved(pattern) && !IsMeta(pattern) {
		return false, ErrReservedTopic
	}
	return wild, nil
}

// HasWildcard reports whether a valid pattern holds a wildcard token.
func HasWildcard(pattern string) bool {
	_, wild := validTokens(pattern, true)
	return wild
}

// Match reports whether a valid pattern matches a valid concrete topic. "*"
// matches exactly one token, a final ">" one or more. A wildcard in the first
// token never matches a reserved ($) topic.
func Match(pattern, topic string) bool {
	if IsReserved(topic) && len(pattern) > 0 && (pattern[0] == '*' || pattern[0] == '>') {
		return false
	}
	for {
		pi := strings.IndexByte(pattern, '.')
		ti := strings.IndexByte(topic, '.')
		var ptok, ttok string
		if pi < 0 {
			ptok = pattern
		} else {
			ptok = pattern[:pi]
		}
		if ti < 0 {
			ttok = topic
		} else {
			ttok = topic[:ti]
		}
		switch {
		case ptok == ">":
			return pi < 0 // '>' is last and matches the rest (at least one token)
		case ptok == "*", ptok == ttok:
		default:
			return false
		}
		if pi < 0 || ti < 0 {
			return pi < 0 && ti < 0
		}
		pattern, topic = pattern[pi+1:], topic[ti+1:]
	}
}
