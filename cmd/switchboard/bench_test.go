package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// benchJSON runs a bench command in-process and decodes its last line.
func benchJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var out, errb syncBuffer
	if err := run(t.Context(), append([]string{"bench"}, args...), getenvFrom(nil), strings.NewReader(""), &out, &errb); err != nil {
		t.Fatalf("bench %v: %v\n%s", args, err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "against") {
		t.Errorf("no human summary before the JSON line:\n%s", out.String())
	}
	return res
}

func TestBenchFanoutAgainstServeAndRelay(t *testing.T) {
	addr, _, _ := startServe(t, []string{"--addr", "127.0.0.1:0"}, nil)

	// The relay floor as its own command.
	ctx, cancel := context.WithCancel(t.Context())
	var relayOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"bench", "relay", "--addr", "127.0.0.1:0"}, getenvFrom(nil), strings.NewReader(""), &relayOut, io.Discard)
	}()
	ready := regexp.MustCompile(`relay ready addr=\S+ url=(\S+) pid=\d+`)
	waitFor(t, "the relay's ready line", 10*time.Second, func() bool { return ready.MatchString(relayOut.String()) })
	relayURL := ready.FindStringSubmatch(relayOut.String())[1]

	for _, url := range []string{"ws://" + addr + "/ws", relayURL} {
		res := benchJSON(t, "fanout", "--url", url, "--floor=false", "--quiet", "--subscribers", "10",
			"--duration", "700ms", "--warmup", "100ms", "--ack-every", "-1")
		if res["lost"] != 0.0 || res["errors"] != 0.0 || res["published"] == nil {
			t.Errorf("%s: %v", url, res)
		}
		if res["delivered"] != res["published"].(float64)*10 {
			t.Errorf("%s: delivered %v, published %v to 10 subscribers", url, res["delivered"], res["published"])
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("relay: %v", err)
	}
}

func TestBenchIdleAndReqRep(t *testing.T) {
	addr, _, _ := startServe(t, []string{"--addr", "127.0.0.1:0"}, nil)
	url := "ws://" + addr + "/ws"
	res := benchJSON(t, "idle", "--url", url, "--floor=false", "--quiet", "--connections", "20", "--duration", "100ms", "--settle", "10ms")
	if res["connected"] != 20.0 || res["alive"] != 20.0 {
		t.Errorf("idle: %v", res)
	}
	res = benchJSON(t, "reqrep", "--url", url, "--quiet", "--duration", "300ms", "--warmup", "0", "--requesters", "2")
	if res["requests"] == nil || res["lost"] != 0.0 {
		t.Errorf("reqrep: %v", res)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want error // nil: a usageError
	}{
		{[]string{"bench"}, nil},
		{[]string{"bench", "nope"}, nil},
		{[]string{"bench", "fanout", "--url", "ws://192.0.2.1:8080/ws"}, nil},
		{[]string{"bench", "fanout", "--url", "ws://example.com/ws"}, nil},
		{[]string{"bench", "idle", "--duration", "11m"}, nil},
		{[]string{"bench", "relay", "--addr", ":0"}, nil},
		{[]string{"bench", "fanout", "extra"}, nil},
		{[]string{"bench", "--help"}, flag.ErrHelp},
		{[]string{"bench", "fanout", "--help"}, flag.ErrHelp},
	} {
		var stderr syncBuffer
		err := run(t.Context(), tc.args, getenvFrom(nil), strings.NewReader(""), io.Discard, &stderr)
		var ue usageError
		switch {
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%v: %v, want %v", tc.args, err, tc.want)
		case tc.want == nil && !errors.As(err, &ue):
			t.Errorf("%v: %v, want a usage error", tc.args, err)
		}
		if exitCode(err) != 2 {
			t.Errorf("%v: exit code %d, want 2", tc.args, exitCode(err))
		}
		if !strings.Contains(stderr.String(), "Usage") && tc.want != nil {
			t.Errorf("%v: no usage on stderr", tc.args)
		}
	}
}
