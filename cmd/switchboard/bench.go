package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/internal/bench"
)

// benchCommands are the sub-commands of "switchboard bench".
var benchCommands = []struct{ name, summary string }{
	{"fanout", "publishers → subscribers on topics: delivered msg/s, publish→receive latency, server CPU per 1M"},
	{"idle", "open N subscribed connections and keep them: server CPU to connect them, RSS per connection"},
	{"reqrep", "requesters → responders through request/reply: requests/s and round-trip latency"},
	{"relay", "run the floor: a minimal coalescing coder/websocket relay (loopback only)"},
}

func printBenchUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: switchboard bench <fanout|idle|reqrep|relay> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A load tool for loopback targets only (127.0.0.0/8, ::1, localhost). Progress goes")
	fmt.Fprintln(w, "to stderr each second; a human summary and one JSON line (the last) to stdout.")
	fmt.Fprintln(w)
	for _, c := range benchCommands {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'switchboard bench <command> --help' for its flags; docs/performance.md for the method.")
}

func runBench(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		printBenchUsage(e.stderr)
		if len(args) == 0 {
			return usageError{"bench: a sub-command is required"}
		}
		return flag.ErrHelp
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "fanout":
		return runBenchFanout(ctx, args, e)
	case "idle":
		return runBenchIdle(ctx, args, e)
	case "reqrep":
		return runBenchReqRep(ctx, args, e)
	case "relay":
		return runBenchRelay(ctx, args, e)
	}
	printBenchUsage(e.stderr)
	return usageError{fmt.Sprintf("bench: unknown sub-command %q", sub)}
}

// benchFlags are the flags every load shares.
type benchFlags struct {
	c          bench.Common
	floor      bool
	quiet      bool
	cpuProfile string
}

func (bf *benchFlags) register(fs *flag.FlagSet, floorDefault bool) {
	fs.StringVar(&bf.c.URL, "url", "ws://127.0.0.1:8080/ws", "server WebSocket URL; loopback only (fanout: several, comma-separated, spread the subscribers over the nodes of a cluster; publishers use the first)")
	fs.StringVar(&bf.c.Target, "target", "switchboard", "label of the target in the report")
	fs.Func("server-pid", "the server's PID: report its CPU-seconds per 1M and RSS per connection from /proc (a cluster: every node's PID, comma-separated, summed)", func(v string) error {
		for i, f := range strings.Split(v, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || pid <= 0 {
				return fmt.Errorf("want a PID (or several, comma-separated), got %q", f)
			}
			if i == 0 {
				bf.c.ServerPID = pid
			} else {
				bf.c.ExtraPIDs = append(bf.c.ExtraPIDs, pid)
			}
		}
		return nil
	})
	fs.DurationVar(&bf.c.Duration, "duration", bench.DefaultDuration, fmt.Sprintf("measured window (idle: how long connections are held), at most %v", bench.MaxDuration))
	fs.DurationVar(&bf.c.Warmup, "warmup", bench.DefaultWarmup, "load before the measured window, not counted (0: none)")
	fs.DurationVar(&bf.c.SetupTimeout, "setup-timeout", bench.DefaultSetupTimeout, "bound on opening every connection")
	fs.IntVar(&bf.c.DialConcurrency, "dial-concurrency", bench.DefaultDialConcurrency, "connections opened at once")
	fs.IntVar(&bf.c.PerSourceIP, "per-source-ip", bench.DefaultPerSourceIP, "connections per source address before moving on to 127.0.0.2, 127.0.0.3, …")
	fs.StringVar(&bf.c.Session, "session", bench.DefaultSession, "session id of every connection")
	fs.BoolVar(&bf.quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&bf.cpuProfile, "cpuprofile", "", "write the load tool's own CPU profile to this file")
	if floorDefault {
		fs.BoolVar(&bf.floor, "floor", true, "also run the same load against the relay floor (started as a child process: switchboard bench relay) and report the ratios")
	}
}

// common returns the shared settings, with Warmup 0 meaning none.
func (bf *benchFlags) common(e env) bench.Common {
	c := bf.c
	if c.Warmup == 0 {
		c.Warmup = -1
	}
	if !bf.quiet {
		c.Progress = e.stderr
	}
	return c
}

// prepare raises the open-files limit and checks the URL before anything
// starts.
func prepare(bf *benchFlags) error {
	if _, err := bench.CheckURL(bf.c.URL); err != nil {
		return usageError{err.Error()}
	}
	if bf.c.Duration <= 0 || bf.c.Duration > bench.MaxDuration {
		return usageError{fmt.Sprintf("--duration %v: want more than 0 and at most %v", bf.c.Duration, bench.MaxDuration)}
	}
	_, err := bench.RaiseFileLimit()
	return err
}

// withFloor runs load against the target, then (if floor) against a relay
// child process, and prints the summary and the JSON line.
func withFloor(ctx context.Context, e env, bf *benchFlags, floor bool, c bench.Common, load func(c bench.Common) (*bench.Result, error)) error {
	if bf.cpuProfile != "" {
		f, err := os.Create(bf.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := load(c)
	if err != nil {
		return err
	}
	if floor {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: the floor needs this program's path: %w", err)
		}
		relay, err := bench.StartRelayProcess(ctx, exe, e.stderr)
		if err != nil {
			return err
		}
		fc := c
		fc.URL, fc.ServerPID, fc.Target = relay.URL, relay.PID, "relay"
		fres, ferr := load(fc)
		serr := relay.Stop()
		if ferr != nil {
			return fmt.Errorf("bench: the floor run: %w", ferr)
		}
		if serr != nil {
			fmt.Fprintln(e.stderr, serr)
		}
		if c.ServerPID == 0 {
			fres.Server = nil // no server numbers to compare with
		}
		res.Compare(fres)
	}
	res.WriteSummary(e.stdout)
	return res.WriteJSON(e.stdout)
}

func runBenchFanout(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("bench fanout", "bench fanout [flags]\n\nPublishers publish on --topics topics (round robin); subscriber i subscribes to\ntopic i mod --topics. Each payload carries its send time: subscribers measure\npublish→receive latency. At max rate (--rate 0) publishers keep at most --window\nundelivered messages per subscriber.", e)
	var bf benchFlags
	bf.register(fs, true)
	var cfg bench.FanoutConfig
	fs.IntVar(&cfg.Subscribers, "subscribers", 1000, "subscriber connections")
	fs.IntVar(&cfg.Publishers, "publishers", 1, "publisher connections")
	fs.IntVar(&cfg.Topics, "topics", 1, "topics")
	fs.IntVar(&cfg.PayloadBytes, "payload", 64, fmt.Sprintf("payload size in bytes (its JSON value, quotes included; at least %d)", bench.MinPayload))
	fs.Float64Var(&cfg.Rate, "rate", 0, "publishes per second over all publishers (0: as fast as possible)")
	fs.IntVar(&cfg.Batch, "batch", 1, "publishes per frame")
	fs.IntVar(&cfg.Window, "window", bench.DefaultWindow, "at max rate: most messages a subscriber may not have received yet (-1: unbounded)")
	fs.IntVar(&cfg.AckEvery, "ack-every", bench.DefaultAckEvery, "every Nth publish carries an id; the next one waits for its ack (-1: never)")
	fs.DurationVar(&cfg.Drain, "drain", bench.DefaultDrain, "after the window, how long to wait for the last deliveries")
	if err := parseBench(fs, args, e, &bf); err != nil {
		return err
	}
	return withFloor(ctx, e, &bf, bf.floor, bf.common(e), func(c bench.Common) (*bench.Result, error) {
		fc := cfg
		fc.Common = c
		return bench.Fanout(ctx, fc)
	})
}

func runBenchIdle(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("bench idle", "bench idle [flags]\n\nOpens --connections connections (hello, then subscribe), lets them settle, holds\nthem for --duration, and reports the server's CPU-seconds to connect them and its\nRSS growth per connection. Run it against a freshly started server.", e)
	var bf benchFlags
	bf.register(fs, true)
	var cfg bench.IdleConfig
	fs.IntVar(&cfg.Connections, "connections", 10000, "connections to open (bounded by the open-files limit)")
	fs.IntVar(&cfg.Topics, "topics", 1, "topics the connections subscribe to (connection i: topic i mod N)")
	fs.DurationVar(&cfg.Settle, "settle", 2*time.Second, "wait after the last subscribe before the hold")
	if err := parseBench(fs, args, e, &bf); err != nil {
		return err
	}
	return withFloor(ctx, e, &bf, bf.floor, bf.common(e), func(c bench.Common) (*bench.Result, error) {
		ic := cfg
		ic.Common = c
		return bench.Idle(ctx, ic)
	})
}

func runBenchReqRep(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("bench reqrep", "bench reqrep [flags]\n\nResponders subscribe to one topic and echo every request; each requester sends a\nrequest and waits for its response (closed loop), paced to --rate when given.\nThe relay floor does not speak request/reply: there is no --floor.", e)
	var bf benchFlags
	bf.register(fs, false)
	var cfg bench.ReqRepConfig
	fs.IntVar(&cfg.Responders, "responders", 1, "responder connections")
	fs.IntVar(&cfg.Requesters, "requesters", 10, "requester connections, one request in flight each")
	fs.IntVar(&cfg.PayloadBytes, "payload", 64, "payload size in bytes (JSON value, quotes included)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests per second over all requesters (0: closed loop, as fast as answers come)")
	if err := parseBench(fs, args, e, &bf); err != nil {
		return err
	}
	return withFloor(ctx, e, &bf, false, bf.common(e), func(c bench.Common) (*bench.Result, error) {
		rc := cfg
		rc.Common = c
		return bench.ReqRep(ctx, rc)
	})
}

func runBenchRelay(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("bench relay", "bench relay [flags]\n\nServes the relay floor until interrupted and prints\n\"relay ready addr=HOST:PORT url=ws://HOST:PORT/ws pid=N\" on stdout.", e)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("bench relay takes no arguments, got %q", fs.Args())}
	}
	if err := bench.CheckListenAddr(*addr); err != nil {
		return usageError{err.Error()}
	}
	if _, err := bench.RaiseFileLimit(); err != nil {
		return err
	}
	return bench.ServeRelay(ctx, *addr, e.stdout)
}

// parseBench parses a bench sub-command's flags (no arguments allowed) and
// prepares the shared ones.
func parseBench(fs *flag.FlagSet, args []string, e env, bf *benchFlags) error {
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), fs.Args())}
	}
	return prepare(bf)
}
