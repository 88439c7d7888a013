package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// deadURL returns a loopback URL on which nothing listens any more.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + ln.Addr().String() + "/ws"
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return url
}

// --url takes a comma-separated list, tried in order: a dead first node is
// skipped; all dead, the error names each.
func TestClientCommandsURLList(t *testing.T) {
	addr, _, _ := startServe(t, []string{"--addr", "127.0.0.1:0"}, nil)
	live, dead := "ws://"+addr+"/ws", deadURL(t)
	list := dead + ", " + live
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	subOut, subErr := &syncBuffer{}, &syncBuffer{}
	subDone := make(chan error, 1)
	go func() {
		subDone <- run(ctx, []string{"sub", "--url", list, "--session", "cli-failover", "--count", "1", "news"}, getenvFrom(nil), nil, subOut, subErr)
	}()
	waitFor(t, "the subscription", 10*time.Second, func() bool { return strings.Contains(subErr.String(), "subscribed to news") })
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"pub", "--url", list, "--session", "cli-failover", "news", "via the second"}, getenvFrom(nil), nil, &out, &errOut); err != nil {
		t.Fatalf("pub: %v\n%s", err, errOut.String())
	}
	select {
	case err := <-subDone:
		if err != nil {
			t.Fatalf("sub: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("sub did not get the message")
	}
	if got := subOut.String(); got != "via the second\n" {
		t.Errorf("sub printed %q", got)
	}

	dead2 := deadURL(t)
	err := run(ctx, []string{"pub", "--url", dead + "," + dead2, "--timeout", "5s", "news", "x"}, getenvFrom(nil), nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), dead+": ") || !strings.Contains(err.Error(), dead2+": ") {
		t.Errorf("pub to two dead URLs: %v, want an error naming both", err)
	}
}
