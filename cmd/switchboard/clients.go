package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/client"
)

// clientFlags are the flags shared by pub, sub and request.
type clientFlags struct {
	url, name, session, token string
	caCert                    string // serve_security.go: trust this CA for wss://
	passphrase, secret        string
	signed                    bool
	timeout                   time.Duration
}

func (cf *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&cf.url, "url", "ws://localhost:8080/ws", "server WebSocket URL (ws:// or wss://); several, comma-separated (nodes of one cluster), are tried in order until one connects")
	fs.StringVar(&cf.name, "name", "", "client name (default cli-<pid>)")
	fs.StringVar(&cf.session, "session", "", "session id (default session-<name>)")
	fs.StringVar(&cf.token, "token", "", "authentication token, when the server requires one")
	fs.StringVar(&cf.caCert, "ca-cert", "", "for wss://: also trust the certificate authority (or self-signed certificate) in this PEM file")
	fs.StringVar(&cf.passphrase, "passphrase", "", "end-to-end encrypt payloads with a key derived from this passphrase (every member of the session uses the same one)")
	fs.StringVar(&cf.secret, "secret", "", "end-to-end encrypt payloads with this 256-bit secret (base64url, e.g. from an invite link) instead of a passphrase")
	fs.BoolVar(&cf.signed, "signed", false, "with --passphrase or --secret, when this client creates the session's encryption: sign every message (sender authenticity)")
	fs.DurationVar(&cf.timeout, "timeout", 10*time.Second, "how long to wait for the server (connect, acknowledgements)")
}

// urls splits --url on commas: the client tries them in order.
func (cf *clientFlags) urls() []string {
	var urls []string
	for _, u := range strings.Split(cf.url, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// dial connects with the shared flags, to the first of the --url list that
// accepts. The CLI does not reconnect: a lost connection is an error the
// user sees.
func (cf *clientFlags) dial(ctx context.Context, e env, opts client.Options) (*client.Client, error) {
	if cf.name == "" {
		cf.name = "cli-" + strconv.Itoa(os.Getpid())
	}
	opts.Name, opts.SessionID, opts.Token = cf.name, cf.session, cf.token
	opts.ConnectTimeout = cf.timeout
	if cf.caCert != "" {
		tc, err := tlsConfigWithCA(cf.caCert)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = tc
	}
	opts.DisableReconnect = true
	if cf.passphrase != "" || cf.secret != "" {
		opts.E2E = &client.E2E{Passphrase: cf.passphrase, Secret: cf.secret, Signed: cf.signed}
		if opts.OnError == nil {
			opts.OnError = func(err error) {
				var oe *client.OpenError
				if errors.As(err, &oe) {
					fmt.Fprintf(e.stderr, "could not open a message on %s from %s: %v\n", oe.Topic, oe.PublisherName, oe.Err)
				}
			}
		}
	}
	dctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	opts.URLs = cf.urls()
	c, err := client.Dial(dctx, "", opts)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cf.url, err)
	}
	return c, nil
}

// payloadArg turns a command-line payload into JSON: valid JSON is sent as
// it is, anything else as a JSON string.
func payloadArg(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// printPayload writes a payload on one line: a JSON string without its
// quotes, anything else as compact JSON.
func printPayload(w io.Writer, p json.RawMessage) {
	var s string
	if len(p) > 0 && p[0] == '"' && json.Unmarshal(p, &s) == nil {
		fmt.Fprintln(w, s)
		return
	}
	fmt.Fprintln(w, string(p))
}

func runPub(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("pub", "pub [flags] TOPIC [PAYLOAD]\n\nPublishes PAYLOAD (JSON, or else sent as a string) to TOPIC and waits for the\nacknowledgement. Without PAYLOAD, publishes each line of standard input.", e)
	var cf clientFlags
	cf.register(fs)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return usageError{"pub takes TOPIC and an optional PAYLOAD"}
	}
	topic := fs.Arg(0)
	c, err := cf.dial(ctx, e, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	publish := func(p json.RawMessage) error {
		pctx, cancel := context.WithTimeout(ctx, cf.timeout)
		defer cancel()
		seq, err := c.Publish(pctx, topic, p)
		if err != nil {
			return fmt.Errorf("publish to %s: %w", topic, err)
		}
		fmt.Fprintf(e.stderr, "published to %s (seq %d)\n", topic, seq)
		return nil
	}
	if fs.NArg() == 2 {
		return publish(payloadArg(fs.Arg(1)))
	}
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if err := publish(payloadArg(line)); err != nil {
			return err
		}
	}
	return sc.Err()
}

func runSub(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("sub", "sub [flags] PATTERN\n\nSubscribes to PATTERN (wildcards * and > allowed) and prints each message's\npayload on its own line (a JSON string without quotes, anything else as JSON),\nuntil interrupted or --count messages. With --passphrase or --secret, payloads\nare opened (decrypted) first; without, encrypted payloads print as e2e:…", e)
	var cf clientFlags
	cf.register(fs)
	count := fs.Int("count", 0, "exit after this many messages (0: run until interrupted)")
	verbose := fs.Bool("verbose", false, "print topic, publisher and seq before each payload")
	reply := fs.String("reply", "", "answer every request received with this payload (JSON or string); '-' echoes the request's payload")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError{"sub takes one PATTERN"}
	}
	pattern := fs.Arg(0)
	received := make(chan struct{}, 1)
	n := 0
	handle := func(m *client.Message) {
		if *verbose {
			seq := ""
			if m.Seq > 0 {
				seq = fmt.Sprintf(" seq=%d", m.Seq)
			}
			lock := ""
			if m.Encrypted {
				lock = " (end-to-end encrypted)"
			}
			fmt.Fprintf(e.stdout, "[%s] %s from %s%s%s: ", m.SessionID, m.Topic, m.PublisherName, seq, lock)
		}
		printPayload(e.stdout, m.Payload)
		if m.ReplyTo != "" && *reply != "" {
			p := m.Payload
			if *reply != "-" {
				p = payloadArg(*reply)
			}
			rctx, cancel := context.WithTimeout(ctx, cf.timeout)
			err := m.Reply(rctx, p)
			cancel()
			if err != nil {
				fmt.Fprintln(e.stderr, "reply:", err)
			}
		}
		n++
		if *count > 0 && n >= *count {
			select {
			case received <- struct{}{}:
			default:
			}
		}
	}
	c, err := cf.dial(ctx, e, client.Options{DefaultHandler: handle})
	if err != nil {
		return err
	}
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, cf.timeout)
	_, err = c.Subscribe(sctx, pattern, handle)
	cancel()
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", pattern, err)
	}
	fmt.Fprintf(e.stderr, "subscribed to %s in session %s as %s\n", pattern, c.SessionID(), c.Name())
	select {
	case <-ctx.Done():
		return nil
	case <-received:
		return nil
	case <-c.Done():
		if err := c.Err(); err != nil && !errors.Is(err, client.ErrClosed) {
			return err
		}
		return errors.New("connection closed by the server")
	}
}

func runRequest(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("request", "request [flags] TOPIC PAYLOAD\n\nSends a request to TOPIC and prints the first response's payload.", e)
	var cf clientFlags
	cf.register(fs)
	wait := fs.Duration("wait", 5*time.Second, "how long to wait for a response (at most 60s)")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return usageError{"request takes TOPIC and PAYLOAD"}
	}
	c, err := cf.dial(ctx, e, client.Options{RequestTimeout: *wait})
	if err != nil {
		return err
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	resp, err := c.Request(rctx, fs.Arg(0), payloadArg(fs.Arg(1)))
	if err != nil {
		return fmt.Errorf("request %s: %w", fs.Arg(0), err)
	}
	printPayload(e.stdout, resp.Payload)
	return nil
}
