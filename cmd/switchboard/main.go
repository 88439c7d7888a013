// Command switchboard is Switchboard's one binary: the server (serve, the
// default), command-line clients (pub, sub, request) and an in-process demo.
//
// main only parses arguments and calls into the packages; see run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped into the server's welcome and printed by --version.
var version = "0.1.0"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "switchboard:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitCode maps an error to the process's exit status: 2 for usage errors,
// 1 for everything else.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// command is one sub-command.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, env env) error
}

// env is what a command may use of its surroundings, so tests can run the
// real program in-process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func commands() []command {
	return []command{
		{"serve", "run the server (the default): dashboard, WebSocket endpoint and admin API", runServe},
		{"pub", "publish one message to a topic", runPub},
		{"sub", "subscribe to a topic pattern and print each message's payload", runSub},
		{"request", "send a request and print the response", runRequest},
		{"demo", "start a server in-process and show routing, isolation and request/reply", runDemo},
		{"token", "mint a signed token for a client (development), or make a secret or key pair", runToken},
		{"history", "print the messages a topic keeps in its history (admin API)", runHistory},
		{"bench", "load-test a server over loopback (fanout, idle, reqrep) against the relay floor", runBench},
	}
}

// run is the whole program: it dispatches to a sub-command.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	name := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	switch name {
	case "help":
		printUsage(stdout)
		return nil
	case "version":
		fmt.Fprintln(stdout, "switchboard", version)
		return nil
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		fmt.Fprintln(stdout, "switchboard", version)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args, e)
		}
	}
	printUsage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", name)}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: switchboard [command] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'switchboard <command> --help' for a command's flags.")
}

// newFlagSet returns a flag set for a sub-command that prints its usage to
// the command's stderr.
func newFlagSet(name, usage string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: switchboard %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, then fills every flag not given on the command
// line from the environment variable SWITCHBOARD_<FLAG> (upper case, '-' →
// '_'). Flags win over the environment.
func parseFlags(fs *flag.FlagSet, args []string, e env) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		v := e.getenv(envName(f.Name))
		if v == "" {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usageError{fmt.Sprintf("%s=%q: %v", envName(f.Name), v, serr)}
		}
	})
	return err
}

func envName(flagName string) string {
	b := []byte("SWITCHBOARD_" + flagName)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
