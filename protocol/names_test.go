package protocol

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"Client1", true},
		{"a", true},
		{"user@example.com:laptop_1-x", true},
		{strings.Repeat("n", 64), true},
		{strings.Repeat("n", 65), false},
		{"", false},
		{"has space", false},
		{"slash/", false},
		{"ünï", false},
		{"$server", false},
	}
	for _, tt := range tests {
		if err := ValidateName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	if ValidateSessionID(strings.Repeat("s", 128)) != nil || ValidateSessionID(strings.Repeat("s", 129)) == nil {
		t.Error("session id length limit is not 128")
	}
}

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		topic string
		err   error
	}{
		{"NetworkConnectedEvent", nil},
		{"a.b.c", nil},
		{"a-b:c_d.E9", nil},
		{"$meta.e2e", nil},
		{strings.Repeat("t", 256), nil},
		{strings.Repeat("t", 257), ErrInvalidTopic},
		{"", ErrInvalidTopic},
		{"a..b", ErrInvalidTopic},
		{".a", ErrInvalidTopic},
		{"a.", ErrInvalidTopic},
		{"a b", ErrInvalidTopic},
		{"a.$b", ErrInvalidTopic},
		{"$", ErrInvalidTopic},
		{"a@b", ErrInvalidTopic},
		{"a.*", ErrWildcardTopic},
		{"a.>", ErrWildcardTopic},
		{"a*", ErrInvalidTopic},
		{"a.>.b", ErrInvalidTopic},
	}
	for _, tt := range tests {
		if err := ValidateTopic(tt.topic); err != tt.err {
			t.Errorf("ValidateTopic(%q) = %v, want %v", tt.topic, err, tt.err)
		}
	}
	if err := ValidateClientTopic("$sys.x"); err != ErrReservedTopic {
		t.Errorf("ValidateClientTopic($sys.x) = %v, want ErrReservedTopic", err)
	}
	if err := ValidateClientTopic("$meta.e2e"); err != nil {
		t.Errorf("ValidateClientTopic($meta.e2e) = %v", err)
	}
}

func TestValidatePattern(t *testing.T) {
	tests := []struct {
		pattern string
		wild    bool
		err     error
	}{
		{"a.b", false, nil},
		{"a.*", true, nil},
		{"*", true, nil},
		{">", true, nil},
		{"a.*.c.>", true, nil},
		{"$meta.>", true, nil},
		{"a.>.b", false, ErrInvalidPattern},
		{"a.b*", false, ErrInvalidPattern},
		{"a..*", false, ErrInvalidPattern},
		{"$sys.>", false, ErrReservedTopic},
	}
	for _, tt := range tests {
		wild, err := ValidatePattern(tt.pattern)
		if err != tt.err || wild != tt.wild {
			t.Errorf("ValidatePattern(%q) = %v, %v; want %v, %v", tt.pattern, wild, err, tt.wild, tt.err)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, topic string
		want           bool
	}{
		{"a", "a", true},
		{"a", "b", false},
		{"a", "a.b", false},
		{"a.b", "a", false},
		{"a.*", "a.b", true},
		{"a.*", "a", false},
		{"a.*", "a.b.c", false},
		{"*.b", "a.b", true},
		{"*", "a", true},
		{"*", "a.b", false},
		{">", "a", true},
		{">", "a.b.c", true},
		{"a.>", "a", false},
		{"a.>", "a.b", true},
		{"a.>", "a.b.c", true},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.d", false},
		{"a.*.>", "a.b.c.d", true},
		{"a.*.>", "a.b", false},
		{"*", "$meta", false},
		{">", "$meta.e2e", false},
		{"*.e2e", "$meta.e2e", false},
		{"$meta.*", "$meta.e2e", true},
		{"$meta.>", "$meta.e2e.keys.ab", true},
		{"ab", "abc", false},
		{"abc", "ab", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.topic); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.topic, got, tt.want)
		}
	}
}

func TestCloseCodeReconnect(t *testing.T) {
	reconnect := []CloseCode{CloseGoingAway, CloseTooBig, CloseShutdown, CloseSlowConsumer, CloseTimeout, CloseKicked, CloseRateLimited}
	stop := []CloseCode{CloseNormal, CloseViolations, CloseUnauthorized, CloseForbidden}
	for _, c := range reconnect {
		if !c.Reconnect() {
			t.Errorf("%d (%v).Reconnect() = false, want true", c, c)
		}
	}
	for _, c := range stop {
		if c.Reconnect() {
			t.Errorf("%d (%v).Reconnect() = true, want false", c, c)
		}
	}
	if !CloseRateLimited.LongBackoff() || CloseShutdown.LongBackoff() {
		t.Error("LongBackoff wrong")
	}
}
