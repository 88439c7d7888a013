package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var readyRE = regexp.MustCompile(`switchboard ready.* addr=(\S+)`)

// startServe runs `switchboard serve` in-process on a loopback port and
// returns its address and a function that stops it and returns its error.
func startServe(t *testing.T, args []string, envVars map[string]string) (addr string, logs *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), getenvFrom(envVars), strings.NewReader(""), io.Discard, logs)
	}()
	waitFor(t, "the server's ready line", 10*time.Second, func() bool { return readyRE.MatchString(logs.String()) })
	addr = readyRE.FindStringSubmatch(logs.String())[1]
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return addr, logs, stop
}

func TestServeFlagsEnvironmentAndShutdown(t *testing.T) {
	// The environment sets the address and the admin token; the flag wins
	// over the environment for the address.
	addr, logs, stop := startServe(t, []string{"--addr", "127.0.0.1:0"}, map[string]string{
		"SWITCHBOARD_ADDR":        "192.0.2.1:0", // not an address of this machine: listening there fails
		"SWITCHBOARD_ADMIN_TOKEN": "env-token",
	})
	if strings.Contains(logs.String(), "env-token") {
		t.Fatalf("a configured admin token must not be logged:\n%s", logs)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/clients", nil)
	req.Header.Set("Authorization", "Bearer env-token")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin API with the environment's token = %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve did not exit cleanly on cancel: %v", err)
	}
}

func TestServeBadFlags(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"serve", "--log-level", "loud"}, getenvFrom(nil), nil, io.Discard, &stderr)
	var ue usageError
	if !errors.As(err, &ue) || exitCode(err) != 2 {
		t.Fatalf("bad --log-level: err = %v, want a usage error", err)
	}
	err = run(context.Background(), []string{"serve"}, getenvFrom(map[string]string{"SWITCHBOARD_MAX_FRAME_BYTES": "lots"}), nil, io.Discard, &stderr)
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "SWITCHBOARD_MAX_FRAME_BYTES") {
		t.Fatalf("bad environment value: err = %v", err)
	}
	err = run(context.Background(), []string{"serve", "--help"}, getenvFrom(nil), nil, io.Discard, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "SWITCHBOARD_<FLAG>") {
		t.Fatalf("--help: err = %v, usage:\n%s", err, stderr.String())
	}
	err = run(context.Background(), []string{"frobnicate"}, getenvFrom(nil), nil, io.Discard, &stderr)
	if !errors.As(err, &ue) {
		t.Fatalf("unknown command: err = %v", err)
	}
}

func TestPubSubRequestCommands(t *testing.T) {
	addr, _, _ := startServe(t, []string{"--addr", "127.0.0.1:0"}, nil)
	url := "ws://" + addr + "/ws"
	common := []string{"--url", url, "--session", "cli-test", "--timeout", "5s"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A subscriber that also answers requests, and exits after 3 messages.
	subOut, subErr := &syncBuffer{}, &syncBuffer{}
	subDone := make(chan error, 1)
	go func() {
		args := append([]string{"sub", "--name", "listener", "--count", "3", "--reply", `{"pong":true}`}, common...)
		subDone <- run(ctx, append(args, "cli.>"), getenvFrom(nil), nil, subOut, subErr)
	}()
	waitFor(t, "the subscription", 10*time.Second, func() bool { return strings.Contains(subErr.String(), "subscribed to cli.>") })

	var out, errOut bytes.Buffer
	if err := run(ctx, append(append([]string{"pub", "--name", "talker"}, common...), "cli.a", "plain words"), getenvFrom(nil), nil, &out, &errOut); err != nil {
		t.Fatalf("pub: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "seq 1") {
		t.Fatalf("pub did not report the seq: %s", errOut.String())
	}
	stdin := strings.NewReader("{\"n\":1}\n\n")
	if err := run(ctx, append(append([]string{"pub", "--name", "talker"}, common...), "cli.b"), getenvFrom(nil), stdin, &out, &errOut); err != nil {
		t.Fatalf("pub from stdin: %v", err)
	}
	out.Reset()
	if err := run(ctx, append(append([]string{"request", "--name", "asker"}, common...), "cli.ask", `"ping?"`), getenvFrom(nil), nil, &out, &errOut); err != nil {
		t.Fatalf("request: %v", err)
	}
	if strings.TrimSpace(out.String()) != `{"pong":true}` {
		t.Fatalf("request printed %q", out.String())
	}
	select {
	case err := <-subDone:
		if err != nil {
			t.Fatalf("sub: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("sub did not exit after --count messages")
	}
	if got, want := subOut.String(), "plain words\n{\"n\":1}\nping?\n"; got != want {
		t.Fatalf("sub printed %q, want %q", got, want)
	}

	// Another session sees none of it: a request there has no responders.
	err := run(ctx, []string{"request", "--url", url, "--session", "elsewhere", "cli.ask", "x"}, getenvFrom(nil), nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "no_responders") {
		t.Fatalf("request in another session: %v", err)
	}
}

func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, getenvFrom(nil), nil, &out, io.Discard); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"bob    receives  chat.general \"Hello team A!\" from alice",
		"nothing from team-a",
		"no_responders",
		"bob    receives  direct.note \"just for you\"",
		"not_found",
		"erin     receives  vault.notes {\"text\":\"the eagle has landed\"} (opened, encrypted end to end: true)",
		"observer receives  vault.notes \"e2e:",
		"wrong passphrase",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("transcript lacks %q:\n%s", want, out.String())
		}
	}
}

func TestEncryptedPubSub(t *testing.T) {
	addr, _, _ := startServe(t, []string{"--addr", "127.0.0.1:0"}, nil)
	url := "ws://" + addr + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	common := []string{"--url", url, "--session", "cli-vault"}

	// One subscriber holds the passphrase, one does not.
	type sub struct {
		out, err *syncBuffer
		done     chan error
	}
	start := func(name string, extra ...string) *sub {
		s := &sub{out: &syncBuffer{}, err: &syncBuffer{}, done: make(chan error, 1)}
		args := append(append(append([]string{"sub", "--name", name, "--count", "1"}, common...), extra...), "vault.>")
		go func() { s.done <- run(ctx, args, getenvFrom(nil), nil, s.out, s.err) }()
		waitFor(t, name+"'s subscription", 15*time.Second, func() bool { return strings.Contains(s.err.String(), "subscribed to") })
		return s
	}
	member := start("member", "--passphrase", "open sesame")
	outsider := start("outsider")

	var out, errOut bytes.Buffer
	if err := run(ctx, append(append([]string{"pub", "--name", "writer", "--passphrase", "open sesame"}, common...), "vault.secret", "attack at dawn"), getenvFrom(nil), nil, &out, &errOut); err != nil {
		t.Fatalf("encrypted pub: %v\n%s", err, errOut.String())
	}
	for _, s := range []*sub{member, outsider} {
		select {
		case err := <-s.done:
			if err != nil {
				t.Fatalf("sub: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("a subscriber got nothing")
		}
	}
	if got := member.out.String(); got != "attack at dawn\n" {
		t.Fatalf("the member printed %q, want the plaintext", got)
	}
	if got := outsider.out.String(); !strings.HasPrefix(got, "e2e:") || strings.Contains(got, "dawn") {
		t.Fatalf("the outsider printed %q, want only ciphertext", got)
	}

	err := run(ctx, append(append([]string{"pub", "--passphrase", "wrong"}, common...), "vault.secret", "x"), getenvFrom(nil), nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("pub with a wrong passphrase: %v", err)
	}
}
