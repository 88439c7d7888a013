package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
)

func TestBridgeFlags(t *testing.T) {
	parse := func(args ...string) (*natsFlags, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var f natsFlags
		f.register(fs)
		return &f, fs.Parse(args)
	}
	for _, bad := range [][]string{
		{"--bridge-prefix", "sb"}, // no cluster
		{"--bridge-topics", "chat.>"},
		{"--nats-embedded", "--bridge-sessions", "a"}, // no prefix
	} {
		f, err := parse(bad...)
		if err != nil {
			t.Fatal(err)
		}
		var ue usageError
		if _, err := f.config(); !errors.As(err, &ue) {
			t.Errorf("%q: err = %v, want a usage error", bad, err)
		}
	}
	f, err := parse("--nats-embedded", "--bridge-prefix", "sb", "--bridge-sessions", "team-*, solo", "--bridge-topics", "chat.>,svc.*")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	if cc.BridgePrefix != "sb" || !slices.Equal(cc.BridgeSessions, []string{"team-*", "solo"}) || !slices.Equal(cc.BridgeTopics, []string{"chat.>", "svc.*"}) {
		t.Fatalf("bridge config: %+v", cc)
	}
}
