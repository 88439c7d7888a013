package client

import (
	"encoding/base64"
	"testing"
	"time"
)

func TestTokenExpiry(t *testing.T) {
	jwt := func(payload string) string {
		return "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	for _, tt := range []struct {
		token string
		want  int64
	}{
		{jwt(`{"sub":"a","exp":1767225600}`), 1767225600},
		{jwt(`{"exp":1767225600.5}`), 1767225600},
		{jwt(`{"sub":"a"}`), 0},
		{jwt(`{"exp":"soon"}`), 0},
		{"opaque-token", 0},
		{"a.%%%.c", 0},
	} {
		got := tokenExpiry(tt.token)
		if (tt.want == 0) != got.IsZero() || (tt.want != 0 && got.Unix() != tt.want) {
			t.Errorf("tokenExpiry(%q) = %v, want %d", tt.token, got, tt.want)
		}
	}
}

func TestRefreshLead(t *testing.T) {
	for _, tt := range []struct{ life, lead time.Duration }{
		{time.Hour, 15 * time.Minute},
		{time.Minute, 15 * time.Second},
		{12 * time.Second, 5 * time.Second},
		{4 * time.Second, 2 * time.Second},
	} {
		if got := refreshLead(tt.life); got != tt.lead {
			t.Errorf("refreshLead(%v) = %v, want %v", tt.life, got, tt.lead)
		}
	}
}
