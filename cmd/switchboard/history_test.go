package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// serve --data-dir keeps histories across a restart; history prints them.
func TestHistoryCommandAndDataDir(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SWITCHBOARD_ADMIN_TOKEN": "tok"}
	addr, _, stop := startServe(t, []string{"--addr", "127.0.0.1:0", "--data-dir", dir}, env)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, p := range []string{"one", `{"n":2}`} {
		if err := run(ctx, []string{"pub", "--url", "ws://" + addr + "/ws", "--session", "hs", "--timeout", "5s", "news", p},
			getenvFrom(nil), strings.NewReader(""), io.Discard, io.Discard); err != nil {
			t.Fatalf("pub: %v", err)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	addr, _, _ = startServe(t, []string{"--addr", "127.0.0.1:0"}, map[string]string{"SWITCHBOARD_ADMIN_TOKEN": "tok", "SWITCHBOARD_DATA_DIR": dir})

	var out, errOut bytes.Buffer
	err := run(ctx, []string{"history", "--server", "http://" + addr, "--session", "hs", "news"}, getenvFrom(env), nil, &out, &errOut)
	if err != nil {
		t.Fatalf("history: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "1 ") || !strings.HasSuffix(lines[0], ": one") || !strings.HasSuffix(lines[1], `: {"n":2}`) {
		t.Fatalf("history output:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "latest seq 2") {
		t.Fatalf("history summary: %s", errOut.String())
	}
	out.Reset()
	if err := run(ctx, []string{"history", "--server", "ws://" + addr + "/ws", "--session", "hs", "--since", "1", "--json", "news"}, getenvFrom(env), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"seq":2`) || strings.Contains(out.String(), `"payload":"one"`) {
		t.Fatalf("--since 1 --json:\n%s", out.String())
	}
	err = run(ctx, []string{"history", "--server", "http://" + addr, "--session", "hs", "nope"}, getenvFrom(env), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("unknown topic: %v", err)
	}
	var ue usageError
	if err := run(ctx, []string{"history", "news"}, getenvFrom(nil), nil, io.Discard, io.Discard); !errors.As(err, &ue) {
		t.Fatalf("without --session and token: %v", err)
	}
}
