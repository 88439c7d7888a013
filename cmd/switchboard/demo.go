package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/server"
)

// runDemo is the original framework's "CLI mode": it starts a server
// in-process and runs three Go clients in two sessions, printing a
// transcript that shows topic routing, isolation and request/reply.
func runDemo(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("demo", "demo\n\nStarts a server on a free loopback port and runs three clients in two\nsessions, printing what each of them sees.", e)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	srv, err := server.New(server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: version})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return err
	}
	srvCtx, stopSrv := context.WithCancel(context.Background())
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(srvCtx, ln) }()
	defer func() { stopSrv(); <-srvDone }()

	url := "ws://" + ln.Addr().String() + "/ws"
	d := &demo{out: e.stdout, url: url}
	d.say("Switchboard demo: an in-process server at %s", url)
	d.say("")
	return d.run(ctx)
}

type demo struct {
	out io.Writer
	url string
	mu  sync.Mutex
}

func (d *demo) say(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, format+"\n", args...)
}

// inbox collects what one client receives.
type inbox struct {
	name string
	ch   chan *client.Message
}

func newInbox(name string) *inbox { return &inbox{name: name, ch: make(chan *client.Message, 64)} }

func (in *inbox) handle(m *client.Message) { in.ch <- m }

// next waits for the next message.
func (in *inbox) next(ctx context.Context) (*client.Message, error) {
	select {
	case m := <-in.ch:
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s received nothing: %w", in.name, ctx.Err())
	}
}

// empty reports whether nothing is waiting.
func (in *inbox) empty() bool { return len(in.ch) == 0 }

func (d *demo) connect(ctx context.Context, name, session string, in *inbox) (*client.Client, error) {
	c, err := client.Dial(ctx, d.url, client.Options{Name: name, SessionID: session, DefaultHandler: in.handle})
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", name, err)
	}
	d.say("  %-6s joined session %-7s as %s", name, session, c.ClientID())
	return c, nil
}

func (d *demo) run(ctx context.Context) error {
	aliceIn, bobIn, carolIn := newInbox("alice"), newInbox("bob"), newInbox("carol")
	d.say("1. Three clients connect: alice and bob share session team-a, carol is alone in team-b.")
	alice, err := d.connect(ctx, "alice", "team-a", aliceIn)
	if err != nil {
		return err
	}
	defer alice.Close()
	bob, err := d.connect(ctx, "bob", "team-a", bobIn)
	if err != nil {
		return err
	}
	defer bob.Close()
	carol, err := d.connect(ctx, "carol", "team-b", carolIn)
	if err != nil {
		return err
	}
	defer carol.Close()

	d.say("")
	d.say("2. Topic routing: bob and carol subscribe to the pattern chat.> (every chat topic).")
	for _, s := range []struct {
		c  *client.Client
		in *inbox
	}{{bob, bobIn}, {carol, carolIn}} {
		if _, err := s.c.Subscribe(ctx, "chat.>", s.in.handle); err != nil {
			return err
		}
	}
	seq, err := alice.Publish(ctx, "chat.general", "Hello team A!")
	if err != nil {
		return err
	}
	d.say("  alice  publishes chat.general \"Hello team A!\" (acknowledged, seq %d)", seq)
	m, err := bobIn.next(ctx)
	if err != nil {
		return err
	}
	d.say("  bob    receives  %s %s from %s (session %s, seq %d)", m.Topic, m.Payload, m.PublisherName, m.SessionID, m.Seq)
	if _, err := alice.Publish(ctx, "news.today", "not a chat topic"); err != nil {
		return err
	}
	d.say("  alice  publishes news.today: nobody subscribes to it, so nobody receives it")

	d.say("")
	d.say("3. Isolation: carol subscribes to the same pattern, but in another session.")
	if _, err := carol.Publish(ctx, "chat.general", "Hello from team B"); err != nil {
		return err
	}
	d.say("  carol  publishes chat.general \"Hello from team B\"")
	m, err = carolIn.next(ctx)
	if err != nil {
		return err
	}
	// The server queues messages for a connection in order: had alice's
	// message reached carol, it would have arrived before carol's own.
	if m.PublisherName != "carol" {
		return fmt.Errorf("isolation broken: carol received %s's message", m.PublisherName)
	}
	d.say("  carol  receives  %s %s from %s: her own message, and nothing from team-a", m.Topic, m.Payload, m.PublisherName)
	if !bobIn.empty() {
		return errors.New("isolation broken: bob received a message from team-b")
	}
	d.say("  bob    receives  nothing from team-b")

	d.say("")
	d.say("4. Request/reply: bob answers requests on svc.time; alice asks.")
	if _, err := bob.Subscribe(ctx, "svc.time", func(m *client.Message) {
		_ = m.Respond(map[string]string{"time": time.Now().UTC().Format(time.RFC3339), "answered_by": "bob"})
	}); err != nil {
		return err
	}
	resp, err := alice.Request(ctx, "svc.time", map[string]string{"zone": "UTC"})
	if err != nil {
		return err
	}
	d.say("  alice  requests  svc.time {\"zone\":\"UTC\"}")
	d.say("  alice  gets      %s from %s", resp.Payload, resp.PublisherName)
	_, err = carol.Request(ctx, "svc.time", nil)
	d.say("  carol  requests  svc.time in team-b: %v", err)

	d.say("")
	d.say("5. Direct send: alice sends to bob's client id, without any subscription.")
	if err := alice.Send(ctx, bob.ClientID(), "direct.note", "just for you"); err != nil {
		return err
	}
	m, err = bobIn.next(ctx)
	if err != nil {
		return err
	}
	d.say("  bob    receives  %s %s from client %s", m.Topic, m.Payload, m.From)
	err = carol.Send(ctx, bob.ClientID(), "direct.note", "can I reach team-a?")
	d.say("  carol  sends to bob across sessions: %v", err)

	if err := d.encrypted(ctx); err != nil {
		return err
	}

	d.say("")
	d.say("Done: every message stayed in its session, and the encrypted one stayed unreadable to the server.")
	return nil
}

// encrypted shows an end-to-end encrypted session: what the clients see
// beside what the server (and anyone who can read its traffic) sees.
func (d *demo) encrypted(ctx context.Context) error {
	const passphrase = "correct horse battery staple"
	d.say("")
	d.say("6. End-to-end encryption: dave and erin join session vault with a shared passphrase;")
	d.say("   an observer without it joins the same session and sees what the server sees.")
	daveIn, erinIn, obsIn := newInbox("dave"), newInbox("erin"), newInbox("observer")
	e2e := &client.E2E{Passphrase: passphrase}
	dave, err := client.Dial(ctx, d.url, client.Options{Name: "dave", SessionID: "vault", E2E: e2e, DefaultHandler: daveIn.handle})
	if err != nil {
		return fmt.Errorf("connect dave: %w", err)
	}
	defer dave.Close()
	erin, err := client.Dial(ctx, d.url, client.Options{Name: "erin", SessionID: "vault", E2E: e2e, DefaultHandler: erinIn.handle})
	if err != nil {
		return fmt.Errorf("connect erin: %w", err)
	}
	defer erin.Close()
	observer, err := client.Dial(ctx, d.url, client.Options{Name: "observer", SessionID: "vault"})
	if err != nil {
		return fmt.Errorf("connect observer: %w", err)
	}
	defer observer.Close()
	d.say("  dave and erin derived the session key (Argon2id) and joined; the parameters are public in $meta.e2e")
	for _, s := range []struct {
		c  *client.Client
		in *inbox
	}{{erin, erinIn}, {observer, obsIn}} {
		if _, err := s.c.Subscribe(ctx, "vault.>", s.in.handle); err != nil {
			return err
		}
	}
	if _, err := dave.Publish(ctx, "vault.notes", map[string]string{"text": "the eagle has landed"}); err != nil {
		return err
	}
	d.say("  dave     publishes vault.notes {\"text\":\"the eagle has landed\"}")
	m, err := erinIn.next(ctx)
	if err != nil {
		return err
	}
	d.say("  erin     receives  %s %s (opened, encrypted end to end: %v)", m.Topic, m.Payload, m.Encrypted)
	m, err = obsIn.next(ctx)
	if err != nil {
		return err
	}
	d.say("  observer receives  %s %s", m.Topic, abbreviate(string(m.Payload), 60))
	if _, err := erin.Subscribe(ctx, "vault.ask", func(m *client.Message) { _ = m.Respond("sealed answer") }); err != nil {
		return err
	}
	resp, err := dave.Request(ctx, "vault.ask", "sealed question")
	if err != nil {
		return err
	}
	d.say("  dave     requests  vault.ask and gets %s from %s (encrypted both ways: %v)", resp.Payload, resp.PublisherName, resp.Encrypted)
	_, err = client.Dial(ctx, d.url, client.Options{Name: "mallory", SessionID: "vault", E2E: &client.E2E{Passphrase: "guess"}, DisableReconnect: true})
	d.say("  mallory  joins with a wrong passphrase: %v", err)
	if err == nil {
		return errors.New("a wrong passphrase was accepted")
	}
	return nil
}

// abbreviate shortens s to n characters with an ellipsis.
func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
