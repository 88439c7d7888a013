package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// Failover's pure parts: the server list and the reconnect plan. They run
// on both platforms.

func TestServerURLs(t *testing.T) {
	for _, tc := range []struct {
		raw   string
		extra []string
		want  []string // nil: ErrInvalidURL
	}{
		{"ws://a:1", nil, []string{"ws://a:1/ws"}},
		{"ws://a:1", []string{"http://b:2", "wss://c/x"}, []string{"ws://a:1/ws", "ws://b:2/ws", "wss://c/x"}},
		{"", []string{"ws://a:1", "ws://b:2"}, []string{"ws://a:1/ws", "ws://b:2/ws"}},
		// The same server, spelt twice, is one entry: the first stays.
		{"ws://a:1", []string{"ws://a:1/ws", "ws://b:2", "http://a:1"}, []string{"ws://a:1/ws", "ws://b:2/ws"}},
		{"", nil, nil},
		{"", []string{}, nil},
		{"ws://a:1", []string{"ws://b:2", "ftp://c"}, nil},
		{"ws://a:1", []string{""}, nil},
		{"bad", []string{"ws://b:2"}, nil},
	} {
		got, err := serverURLs(tc.raw, tc.extra)
		if tc.want == nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Errorf("serverURLs(%q, %q) = %q, %v; want ErrInvalidURL", tc.raw, tc.extra, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("serverURLs(%q, %q) = %q, %v; want %q", tc.raw, tc.extra, got, err, tc.want)
		}
	}
}

// A bad URL anywhere in the list fails Dial before anything is dialled;
// so does no URL at all.
func TestDialValidatesEveryURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		url  string
		urls []string
	}{
		{"ws://127.0.0.1:1/ws", []string{"ws://127.0.0.1:2/ws", "ftp://127.0.0.1:3"}},
		{"", nil},
		{"", []string{"127.0.0.1:4"}},
	} {
		c, err := Dial(ctx, tc.url, Options{Name: "a", URLs: tc.urls})
		if !errors.Is(err, ErrInvalidURL) {
			t.Errorf("Dial(%q, URLs %q) = %v, %v; want ErrInvalidURL", tc.url, tc.urls, c, err)
		}
	}
}

// The documented plan: rounds of one attempt per URL, starting after the
// lost one and ending with it; the round's backoff before its first
// attempt only, growing per round; the rate-limit backoff on request.
func TestAttemptPlan(t *testing.T) {
	const ms = time.Millisecond
	o, err := Options{Name: "a", MinBackoff: 100 * ms, MaxBackoff: 350 * ms, RateLimitBackoff: time.Second, DisableJitter: true}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{opts: o, urls: []string{"ws://a/ws", "ws://b/ws", "ws://c/ws"}}
	var got []string
	for k := range 10 {
		idx, wait := c.attempt(0, k, false) // the connection to a was lost
		got = append(got, fmt.Sprintf("%s+%v", c.urls[idx][5:6], wait))
	}
	want := []string{
		"b+100ms", "c+0s", "a+0s", // round 0
		"b+200ms", "c+0s", "a+0s", // round 1
		"b+350ms", "c+0s", "a+0s", // round 2: capped at MaxBackoff
		"b+350ms",
	}
	if !slices.Equal(got, want) {
		t.Errorf("plan after losing a:\n got %q\nwant %q", got, want)
	}
	if idx, _ := c.attempt(2, 0, false); idx != 0 {
		t.Errorf("after losing c, the first attempt goes to %s, want a", c.urls[idx])
	}
	if _, wait := c.attempt(1, 3, true); wait != 200*ms+time.Second {
		t.Errorf("rate-limited round 1 waits %v", wait)
	}

	// One URL: a round is one attempt, and attempt n waits backoff(n), as
	// without failover.
	c.urls = c.urls[:1]
	for k, want := range []time.Duration{100 * ms, 200 * ms, 350 * ms} {
		if idx, wait := c.attempt(0, k, false); idx != 0 || wait != want {
			t.Errorf("single URL, attempt %d: url %d, wait %v; want 0, %v", k, idx, wait, want)
		}
	}

	// With jitter, within [0, bound] for the round, and still 0 inside it.
	c.opts.DisableJitter = false
	c.urls = []string{"ws://a/ws", "ws://b/ws"}
	for range 100 {
		if _, wait := c.attempt(0, 2, false); wait < 0 || wait > 200*ms {
			t.Fatalf("jittered round 1 waits %v, outside [0, 200ms]", wait)
		}
		if _, wait := c.attempt(0, 3, false); wait != 0 {
			t.Fatalf("second attempt of a round waits %v", wait)
		}
	}
}
