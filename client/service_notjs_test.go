//go:build !js

package client

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server"
)

// serviceToken mints a service token for name in session.
func serviceToken(t testing.TB, name, session string) string {
	t.Helper()
	tok, err := server.MintToken(server.TokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: name, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		Sessions:         server.SessionList{session},
		Service:          true,
	}, authSecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A service client works across sessions: it hears two sessions with their
// session ids, publishes into one of them, answers a request of another
// session, and keeps its all-sessions subscription across a reconnect.
func TestServiceClient(t *testing.T) {
	srv, addr, _ := runServer(t, server.Config{AuthSecret: authSecret})
	url := "ws://" + addr
	ctx := itContext(t)
	var rec recorder
	svc := dialIntegration(t, url, "billing", "backend", Options{
		Token: serviceToken(t, "billing", "backend"), OnError: rec.err, MinBackoff: 10 * time.Millisecond,
	})
	a := dialIntegration(t, url, "a", "A", Options{Token: tokenFor(t, "a", "A", time.Hour)})
	b := dialIntegration(t, url, "b", "B", Options{Token: tokenFor(t, "b", "B", time.Hour)})

	var orders collector
	replied := make(chan error, 1)
	sub, err := svc.Subscribe(ctx, "orders.>", func(m *Message) {
		if m.ReplyTo != "" {
			replied <- m.Reply(ctx, map[string]any{"quote": 42, "for": m.SessionID})
			return
		}
		orders.add(m)
	}, WithAllSessions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, "orders.new", "a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, "orders.new", "b1"); err != nil {
		t.Fatal(err)
	}
	got := orders.wait(t, 2)
	if got[0].SessionID != "A" || string(got[0].Payload) != `"a1"` || got[1].SessionID != "B" || string(got[1].Payload) != `"b1"` {
		t.Fatalf("service got %s/%s, %s/%s", got[0].SessionID, got[0].Payload, got[1].SessionID, got[1].Payload)
	}

	// Into one session: only its subscribers receive it. B's first
	// message is the one meant for B, so A's never reached it.
	var inA, inB collector
	if _, err := a.Subscribe(ctx, "invoices", inA.add); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(ctx, "invoices", inB.add); err != nil {
		t.Fatal(err)
	}
	if seq, err := svc.PublishTo(ctx, "A", "invoices", "for A"); err != nil || seq != 1 {
		t.Fatalf("PublishTo A: seq %d, %v", seq, err)
	}
	if _, err := svc.PublishTo(ctx, "B", "invoices", "for B"); err != nil {
		t.Fatal(err)
	}
	if m := inA.wait(t, 1)[0]; m.SessionID != "A" || m.PublisherName != "billing" || string(m.Payload) != `"for A"` {
		t.Fatalf("A got %+v", m)
	}
	if m := inB.wait(t, 1)[0]; string(m.Payload) != `"for B"` {
		t.Fatalf("B's first message: %s", m.Payload)
	}

	// A request of session A, answered by the service in A.
	resp, err := a.Request(ctx, "orders.quote", 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Payload) != `{"for":"A","quote":42}` {
		t.Fatalf("response %s", resp.Payload)
	}
	if err := <-replied; err != nil {
		t.Fatalf("Reply: %v", err)
	}

	// After a reconnect the subscription still covers every session.
	first := svc.ClientID()
	if err := srv.Disconnect(first, protocol.CloseKicked); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the service reconnected", func() bool {
		return svc.State() == StateConnected && svc.ClientID() != first
	})
	if _, err := svc.Ping(ctx); err != nil { // the resubscribe went first
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, "orders.new", "b2"); err != nil {
		t.Fatal(err)
	}
	if m := orders.wait(t, 3)[2]; m.SessionID != "B" || string(m.Payload) != `"b2"` {
		t.Fatalf("after the reconnect: %s/%s", m.SessionID, m.Payload)
	}

	// Unsubscribe names the all-sessions subscription (else the server
	// would answer not_found, reported to OnError before the pong).
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if rec.hasErr(&protocol.Error{Code: protocol.CodeNotFound}) {
		t.Fatal("the unsubscribe was not for the all-sessions subscription")
	}
}

// Without a service token, the same calls are refused with forbidden, and
// option misuse is caught before anything is sent.
func TestServiceCallsForbidden(t *testing.T) {
	_, addr, _ := runServer(t, server.Config{AuthSecret: authSecret})
	ctx := itContext(t)
	plain := dialIntegration(t, "ws://"+addr, "plain", "P", Options{Token: tokenFor(t, "plain", "P", time.Hour)})
	forbidden := &protocol.Error{Code: protocol.CodeForbidden}
	if _, err := plain.Subscribe(ctx, "orders.>", func(*Message) {}, WithAllSessions()); !errors.Is(err, forbidden) {
		t.Fatalf("Subscribe all sessions: %v", err)
	}
	if _, err := plain.PublishTo(ctx, "A", "invoices", 1); !errors.Is(err, forbidden) {
		t.Fatalf("PublishTo another session: %v", err)
	}
	if _, err := plain.PublishTo(ctx, "P", "invoices", 1); err != nil {
		t.Fatalf("PublishTo its own session: %v", err)
	}
	if _, err := plain.PublishTo(ctx, "bad session", "invoices", 1); !errors.Is(err, protocol.ErrInvalidSessionID) {
		t.Fatalf("PublishTo an invalid session: %v", err)
	}
	if _, err := plain.Subscribe(ctx, "t", nil, WithAllSessions(), WithSince(Position{Seq: 1})); !errors.Is(err, ErrAllSessionsOption) {
		t.Fatalf("WithSince and WithAllSessions: %v", err)
	}
}

// A service in an end-to-end encrypted session of its own passes other
// sessions' payloads through untouched, and sends into them unsealed.
func TestServiceE2EPassThrough(t *testing.T) {
	_, addr, _ := runServer(t, server.Config{AuthSecret: authSecret})
	url := "ws://" + addr
	ctx := itContext(t)
	svc := dialIntegration(t, url, "svc", "backend", Options{Token: serviceToken(t, "svc", "backend"), E2E: &E2E{Secret: newSecret(t)}})
	a := dialIntegration(t, url, "a", "A", Options{Token: tokenFor(t, "a", "A", time.Hour)})
	var got, inA collector
	if _, err := svc.Subscribe(ctx, "raw", got.add, WithAllSessions()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Subscribe(ctx, "raw", inA.add); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, "raw", "e2e:not-ours"); err != nil {
		t.Fatal(err)
	}
	if m := got.wait(t, 1)[0]; m.Encrypted || string(m.Payload) != `"e2e:not-ours"` {
		t.Fatalf("service got %s (encrypted %v)", m.Payload, m.Encrypted)
	}
	if _, err := svc.PublishTo(ctx, "A", "raw", "plain"); err != nil {
		t.Fatal(err)
	}
	if m := inA.wait(t, 2)[1]; string(m.Payload) != `"plain"` {
		t.Fatalf("A got %s", m.Payload)
	}
}
