package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/seal"
)

// End-to-end encryption through a real server (testServerURL). Passphrase
// sessions cost one Argon2id derivation (about 0.25 s) per client, so most
// tests use a random secret, as an invite link would.

// errSink collects what OnError receives.
type errSink struct {
	mu   sync.Mutex
	errs []error
}

func (s *errSink) add(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *errSink) all() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// openErrors returns the *OpenError values reported.
func (s *errSink) openErrors() []*OpenError {
	var out []*OpenError
	for _, err := range s.all() {
		var oe *OpenError
		if errors.As(err, &oe) {
			out = append(out, oe)
		}
	}
	return out
}

// waitOpenError waits for an *OpenError matching target and returns it.
func (s *errSink) waitOpenError(t *testing.T, target error) *OpenError {
	t.Helper()
	var found *OpenError
	waitFor(t, 10*time.Second, fmt.Sprintf("an OpenError matching %v", target), func() bool {
		for _, oe := range s.openErrors() {
			if errors.Is(oe, target) {
				found = oe
				return true
			}
		}
		return false
	})
	return found
}

// waitErr waits for any reported error matching target.
func (s *errSink) waitErr(t *testing.T, target error) error {
	t.Helper()
	var found error
	waitFor(t, 10*time.Second, fmt.Sprintf("an error matching %v", target), func() bool {
		for _, err := range s.all() {
			if errors.Is(err, target) {
				found = err
				return true
			}
		}
		return false
	})
	return found
}

func newSecret(t *testing.T) string {
	t.Helper()
	s, err := seal.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dialE2E dials like dialIntegration and checks that the client joined.
func dialE2E(t *testing.T, url, name, session string, e *E2E, o Options) *Client {
	t.Helper()
	o.E2E = e
	c := dialIntegration(t, url, name, session, o)
	if !c.Encrypted() {
		t.Fatalf("%s: Encrypted() = false after Dial with E2E", name)
	}
	return c
}

func dialE2EErr(url, name, session string, e *E2E) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return Dial(ctx, url, Options{Name: name, SessionID: session, E2E: e})
}

func marker() string { return fmt.Sprintf("plaintext-marker-%016x", rand.Uint64()) }

// exchange has a and b use every kind of call once, each payload carrying
// mark, and checks that everything arrives opened: pub/sub both ways
// (Publish, PublishAsync), request/reply (Message.Reply, Message.Respond,
// Client.Reply) and send.
func exchange(t *testing.T, a, b *Client, mark string) {
	t.Helper()
	ctx := itContext(t)
	var atA, atB, direct collector
	for _, x := range []struct {
		c   *Client
		got *collector
	}{{a, &atA}, {b, &atB}} {
		if _, err := x.c.Subscribe(ctx, "chat.>", x.got.add); err != nil {
			t.Fatal(err)
		}
	}
	reply := func(m *Message) {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		switch m.Topic {
		case "svc.reply":
			err = m.Reply(rctx, map[string]any{"echo": json.RawMessage(m.Payload), "encrypted": m.Encrypted})
		case "svc.respond":
			err = m.Respond(map[string]any{"echo": json.RawMessage(m.Payload), "encrypted": m.Encrypted})
		case "svc.client":
			err = b.Reply(rctx, m.ReplyTo, map[string]any{"echo": json.RawMessage(m.Payload), "encrypted": m.Encrypted})
		}
		if err != nil {
			t.Errorf("reply on %s: %v", m.Topic, err)
		}
	}
	if _, err := b.Subscribe(ctx, "svc.*", reply); err != nil {
		t.Fatal(err)
	}
	if _, err := b.OnMessage("direct.>", direct.add); err != nil {
		t.Fatal(err)
	}

	if _, err := a.Publish(ctx, "chat.room", map[string]string{"text": mark + "-publish"}); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishAsync(ctx, "chat.room", mark+"-async"); err != nil {
		t.Fatal(err)
	}
	check := func(who string, m *Message, want string) {
		t.Helper()
		if !m.Encrypted || string(m.Payload) != want {
			t.Errorf("%s got %s (Encrypted=%v), want %s opened", who, m.Payload, m.Encrypted, want)
		}
	}
	want1, want2 := `{"text":"`+mark+`-publish"}`, `"`+mark+`-async"`
	for _, x := range []struct {
		who string
		got *collector
	}{{"a", &atA}, {"b", &atB}} {
		msgs := x.got.wait(t, 2)
		for _, m := range msgs {
			switch m.PublisherName {
			case a.Name():
				check(x.who, m, want1)
			case b.Name():
				check(x.who, m, want2)
			default:
				t.Errorf("%s: message from %q", x.who, m.PublisherName)
			}
		}
	}

	for _, topic := range []string{"svc.reply", "svc.respond", "svc.client"} {
		resp, err := a.Request(ctx, topic, mark+"-request")
		if err != nil {
			t.Fatalf("request %s: %v", topic, err)
		}
		want := `{"echo":"` + mark + `-request","encrypted":true}`
		if !resp.Encrypted || string(resp.Payload) != want || resp.PublisherName != b.Name() {
			t.Errorf("response on %s = %s from %q (Encrypted=%v), want %s", topic, resp.Payload, resp.PublisherName, resp.Encrypted, want)
		}
	}

	if err := a.Send(ctx, b.ClientID(), "direct.note", mark+"-send"); err != nil {
		t.Fatal(err)
	}
	m := direct.wait(t, 1)[0]
	check("b (send)", m, `"`+mark+`-send"`)
	if m.From != a.ClientID() {
		t.Errorf("send from %q, want %q", m.From, a.ClientID())
	}
}

func TestE2EWrongPassphrase(t *testing.T) {
	url := testServerURL(t)
	s := uniqueSession("e2e-wrong")
	alice := dialE2E(t, url, "alice", s, &E2E{Passphrase: "correct horse battery staple"}, Options{})
	p, ok := alice.E2EParams()
	if !ok || p.KDF != seal.KDFArgon2id || p.Epoch != 1 || p.Signed {
		t.Fatalf("E2EParams = %+v, %v", p, ok)
	}
	c, err := dialE2EErr(url, "bob", s, &E2E{Passphrase: "correct horse battery stapler"})
	if err == nil {
		c.Close()
		t.Fatal("Dial with a wrong passphrase succeeded")
	}
	if !errors.Is(err, seal.ErrWrongKey) || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("Dial error = %v, want a wrong passphrase (seal.ErrWrongKey)", err)
	}
	t.Logf("error text: %v", err)
	// The right one joins the same parameters.
	bob := dialE2E(t, url, "bob", s, &E2E{Passphrase: "correct horse battery staple"}, Options{})
	if q, _ := bob.E2EParams(); !bytes.Equal(q.KeyCheck, p.KeyCheck) || !bytes.Equal(q.Salt, p.Salt) {
		t.Errorf("bob joined other parameters: %+v, alice %+v", q, p)
	}
}

func TestE2EOptionsValidation(t *testing.T) {
	for _, e := range []*E2E{{}, {Passphrase: "p", Secret: newSecret(t)}, {Secret: "not-a-secret"}} {
		if _, err := Dial(context.Background(), "ws://127.0.0.1:1/ws", Options{Name: "x", E2E: e}); !errors.Is(err, ErrInvalidE2E) {
			t.Errorf("Dial with %+v: %v, want ErrInvalidE2E", e, err)
		}
	}
}

// An invite link's secret: no Argon2id, and neither a passphrase nor
// another secret opens the session.
func TestE2ESecret(t *testing.T) {
	url := testServerURL(t)
	s := uniqueSession("e2e-secret")
	secret := newSecret(t)
	a := dialE2E(t, url, "a", s, &E2E{Secret: secret}, Options{})
	b := dialE2E(t, url, "b", s, &E2E{Secret: "#" + secret}, Options{}) // as cut from a URL
	if p, _ := a.E2EParams(); p.KDF != seal.KDFSecret {
		t.Errorf("kdf = %q, want secret", p.KDF)
	}
	exchange(t, a, b, marker())

	for _, e := range []*E2E{{Passphrase: secret}, {Secret: newSecret(t)}} {
		if c, err := dialE2EErr(url, "x", s, e); !errors.Is(err, seal.ErrWrongKey) {
			if c != nil {
				c.Close()
			}
			t.Errorf("joining a secret session with %+v: %v, want seal.ErrWrongKey", e, err)
		}
	}
	// And a secret does not open a passphrase session.
	s2 := uniqueSession("e2e-pass")
	dialE2E(t, url, "p", s2, &E2E{Passphrase: "a passphrase"}, Options{})
	if c, err := dialE2EErr(url, "x", s2, &E2E{Secret: secret}); !errors.Is(err, seal.ErrWrongKey) {
		if c != nil {
			c.Close()
		}
		t.Errorf("joining a passphrase session with a secret: %v, want seal.ErrWrongKey", err)
	}
}

// Clients without E2E see the ciphertext untouched; E2E clients get
// plaintext as it is, or drop it with RejectPlaintext.
func TestE2EPlaintextAndObserver(t *testing.T) {
	url := testServerURL(t)
	ctx := itContext(t)
	s := uniqueSession("e2e-plain")
	secret := newSecret(t)
	var rejected errSink
	a := dialE2E(t, url, "a", s, &E2E{Secret: secret}, Options{})
	r := dialE2E(t, url, "r", s, &E2E{Secret: secret, RejectPlaintext: true}, Options{OnError: rejected.add})
	legacy := dialIntegration(t, url, "legacy", s, Options{})
	var atA, atR, atLegacy collector
	for _, x := range []struct {
		c   *Client
		got *collector
	}{{a, &atA}, {r, &atR}, {legacy, &atLegacy}} {
		if _, err := x.c.Subscribe(ctx, "news", x.got.add); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := legacy.Publish(ctx, "news", "plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, "news", "sealed"); err != nil {
		t.Fatal(err)
	}
	msgs := atA.wait(t, 2)
	if m := msgs[0]; m.Encrypted || string(m.Payload) != `"plain"` {
		t.Errorf("plaintext at an E2E client: %s Encrypted=%v", m.Payload, m.Encrypted)
	}
	if m := msgs[1]; !m.Encrypted || string(m.Payload) != `"sealed"` {
		t.Errorf("sealed at an E2E client: %s Encrypted=%v", m.Payload, m.Encrypted)
	}
	if m := atR.wait(t, 1)[0]; string(m.Payload) != `"sealed"` {
		t.Errorf("RejectPlaintext client got %s first", m.Payload)
	}
	if oe := rejected.waitOpenError(t, ErrPlaintext); oe.Topic != "news" || oe.PublisherName != "legacy" || oe.Seq != 1 {
		t.Errorf("OpenError = %+v", oe)
	}
	for _, m := range atLegacy.wait(t, 2) {
		if m.Encrypted {
			t.Errorf("a client without E2E reports Encrypted")
		}
		if m.PublisherName == "a" && !strings.HasPrefix(string(m.Payload), `"e2e:`) {
			t.Errorf("a client without E2E got %s, want the ciphertext", m.Payload)
		}
	}
}

// Signed mode: the session's mode wins for a client that joins without
// asking for it; keys are learned from announcements and pinned.
func TestE2ESigned(t *testing.T) {
	url := testServerURL(t)
	s := uniqueSession("e2e-signed")
	secret := newSecret(t)
	ringA := seal.NewKeyRing()
	idB, err := seal.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	a := dialE2E(t, url, "alice", s, &E2E{Secret: secret, Signed: true, KeyRing: ringA}, Options{})
	b := dialE2E(t, url, "bob", s, &E2E{Secret: secret, Identity: idB}, Options{})
	if p, _ := b.E2EParams(); !p.Signed {
		t.Fatal("bob joined a signed session in unsigned mode")
	}
	exchange(t, a, b, marker())
	if pub, ok := ringA.Key("bob"); !ok || !pub.Equal(idB.Public()) {
		t.Errorf("alice pinned bob to %x, %v; want %x", pub, ok, idB.Public())
	}
}

// A member of a signed session tries to speak under a key announced for
// another name, to switch keys, and to drop the signature.
func TestE2ESignedForgeries(t *testing.T) {
	url := testServerURL(t)
	ctx := itContext(t)
	s := uniqueSession("e2e-forge")
	secret := newSecret(t)
	var errs errSink
	alice := dialE2E(t, url, "alice", s, &E2E{Secret: secret, Signed: true}, Options{OnError: errs.add})
	var got collector
	if _, err := alice.Subscribe(ctx, "chat", got.add); err != nil {
		t.Fatal(err)
	}
	// eve holds the secret but uses a plain client and the seal package.
	eve := dialIntegration(t, url, "eve", s, Options{})
	root, err := seal.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	params, _ := alice.E2EParams()
	newID := func() *seal.Identity {
		id, err := seal.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	announce := func(id *seal.Identity, name string) {
		a, err := seal.NewAnnouncement(id, s, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eve.PublishIfSeq(ctx, seal.KeysTopic(id.KeyID()), 0, a); err != nil {
			t.Fatal(err)
		}
	}
	publishSealed := func(p seal.Params, id *seal.Identity, text string) {
		sess, err := seal.NewSession(s, root, p, id)
		if err != nil {
			t.Fatal(err)
		}
		env, err := sess.Seal("chat", "eve", []byte(`"`+text+`"`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eve.Publish(ctx, "chat", json.RawMessage(`"`+env+`"`)); err != nil {
			t.Fatal(err)
		}
	}

	// 1. A key announced for "alice", used by eve: refused.
	forged := newID()
	announce(forged, "alice")
	publishSealed(params, forged, "forged")
	if oe := errs.waitOpenError(t, seal.ErrAuth); oe.PublisherName != "eve" || oe.Topic != "chat" {
		t.Errorf("OpenError = %+v", oe)
	}
	// 2. eve's own key, announced for eve: accepted and pinned.
	own := newID()
	announce(own, "eve")
	publishSealed(params, own, "honest")
	if m := got.wait(t, 1)[0]; string(m.Payload) != `"honest"` || !m.Encrypted {
		t.Errorf("got %s Encrypted=%v", m.Payload, m.Encrypted)
	}
	// 3. eve switches to another key: the pin holds.
	other := newID()
	announce(other, "eve")
	publishSealed(params, other, "switched")
	errs.waitOpenError(t, seal.ErrKeyChanged)
	// 4. No signature at all.
	unsigned := params
	unsigned.Signed = false
	if err := unsigned.SetKeyCheck(root, s); err != nil {
		t.Fatal(err)
	}
	publishSealed(unsigned, nil, "unsigned")
	errs.waitOpenError(t, seal.ErrUnsigned)
	// 5. A key nobody announced.
	publishSealed(params, newID(), "unknown")
	errs.waitOpenError(t, seal.ErrUnknownSender)

	// Nothing but the honest message reached the handler: a last one from
	// eve's pinned key comes after all the others.
	publishSealed(params, own, "last")
	msgs := got.wait(t, 2)
	if n := len(got.all()); n != 2 || string(msgs[1].Payload) != `"last"` {
		t.Errorf("handler saw %d messages: %s", n, msgs[1].Payload)
	}
}

// Two first clients race to create the parameters: one value wins, and
// both use it.
func TestE2EConcurrentCreate(t *testing.T) {
	url := testServerURL(t)
	s := uniqueSession("e2e-race")
	var wg sync.WaitGroup
	clients := make([]*Client, 2)
	errs := make([]error, 2)
	for i, name := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], errs[i] = dialE2EErr(url, name, s, &E2E{Passphrase: "race passphrase"})
		}()
	}
	wg.Wait()
	for i, c := range clients {
		if errs[i] != nil {
			t.Fatalf("client %d: %v", i, errs[i])
		}
		t.Cleanup(func() { c.Close() })
	}
	pa, _ := clients[0].E2EParams()
	pb, _ := clients[1].E2EParams()
	if !sameParams(&pa, &pb) {
		t.Fatalf("the racers use different parameters:\n%+v\n%+v", pa, pb)
	}
	exchange(t, clients[0], clients[1], marker())
}

// A new $meta.e2e value with a higher epoch switches every member to new
// keys; one that is not a valid successor is reported and ignored.
func TestE2ERotation(t *testing.T) {
	url := testServerURL(t)
	ctx := itContext(t)
	s := uniqueSession("e2e-rotate")
	secret := newSecret(t)
	var errsA, errsB errSink
	a := dialE2E(t, url, "a", s, &E2E{Secret: secret}, Options{OnError: errsA.add})
	b := dialE2E(t, url, "b", s, &E2E{Secret: secret}, Options{OnError: errsB.add})
	var got collector
	if _, err := b.Subscribe(ctx, "chat", got.add); err != nil {
		t.Fatal(err)
	}
	// The rotation is published by a plain client that knows the secret.
	op := dialIntegration(t, url, "operator", s, Options{})
	var meta collector
	if _, err := op.Subscribe(ctx, seal.ParamsTopic, meta.add); err != nil {
		t.Fatal(err)
	}
	seq := meta.wait(t, 1)[0].Seq
	root, _ := seal.ParseSecret(secret)
	next := seal.NewSecretParams(false)
	next.Epoch = 2
	if err := next.SetKeyCheck(root, s); err != nil {
		t.Fatal(err)
	}
	if _, err := op.PublishIfSeq(ctx, seal.ParamsTopic, seq, next); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{a, b} {
		waitFor(t, 10*time.Second, c.Name()+" at epoch 2", func() bool {
			p, _ := c.E2EParams()
			return p.Epoch == 2
		})
	}
	if _, err := a.Publish(ctx, "chat", "after rotation"); err != nil {
		t.Fatal(err)
	}
	if m := got.wait(t, 1)[0]; !m.Encrypted || string(m.Payload) != `"after rotation"` {
		t.Errorf("got %s Encrypted=%v", m.Payload, m.Encrypted)
	}

	// A rollback to epoch 1 is refused by both.
	back := seal.NewSecretParams(false)
	if err := back.SetKeyCheck(root, s); err != nil {
		t.Fatal(err)
	}
	if _, err := op.PublishIfSeq(ctx, seal.ParamsTopic, seq+1, back); err != nil {
		t.Fatal(err)
	}
	errsA.waitErr(t, seal.ErrEpoch)
	errsB.waitErr(t, seal.ErrEpoch)
	if p, _ := a.E2EParams(); p.Epoch != 2 {
		t.Errorf("a moved to epoch %d", p.Epoch)
	}
	if _, err := a.Publish(ctx, "chat", "still epoch 2"); err != nil {
		t.Fatal(err)
	}
	if m := got.wait(t, 2)[1]; !m.Encrypted || string(m.Payload) != `"still epoch 2"` {
		t.Errorf("got %s Encrypted=%v", m.Payload, m.Encrypted)
	}
}

// Client.Reply needs the request's topic to seal: it knows the requests it
// received, and refuses others.
func TestE2EReplyUnknownRequest(t *testing.T) {
	url := testServerURL(t)
	s := uniqueSession("e2e-reply")
	a := dialE2E(t, url, "a", s, &E2E{Secret: newSecret(t)}, Options{})
	if err := a.Reply(itContext(t), "r_unknown", 1); !errors.Is(err, ErrUnknownRequest) {
		t.Errorf("Reply to an unknown request: %v, want ErrUnknownRequest", err)
	}
}

func TestSealedPayload(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		want   string
		sealed bool
	}{
		{`"e2e:AAAA"`, "e2e:AAAA", true},
		{`"\u0065\u00322e:AAAA"`, "", false}, // "e2e" spelt wrong on purpose: e, 2, 2
		{`"\u0065\u0032e:AAAA"`, "e2e:AAAA", true},
		{`"e2e"`, "", false},
		{`{"e2e:":1}`, "", false},
		{`"plain"`, "", false},
		{`"e2e:AA\"`, "", false},
	} {
		got, ok := sealedPayload([]byte(tc.raw))
		if ok != tc.sealed || (ok && got != tc.want) {
			t.Errorf("sealedPayload(%s) = %q, %v; want %q, %v", tc.raw, got, ok, tc.want, tc.sealed)
		}
	}
	if id := (seal.KeyID{}); seal.KeysTopic(id)[:len(keysTopicPrefix)] != keysTopicPrefix {
		t.Errorf("keysTopicPrefix %q does not prefix %q", keysTopicPrefix, seal.KeysTopic(id))
	}
}

func TestOpenErrorText(t *testing.T) {
	err := error(&OpenError{Topic: "chat", PublisherName: "eve", Seq: 7, Err: fmt.Errorf("%w: bad", seal.ErrAuth)})
	if got, want := err.Error(), `client: open payload on "chat" from "eve" (seq 7): seal: authentication failed: bad`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, seal.ErrAuth) {
		t.Error("OpenError does not unwrap to its seal sentinel")
	}
	if !errors.Is(&OpenError{Err: ErrPlaintext}, ErrPlaintext) {
		t.Error("ErrPlaintext")
	}
	_ = protocol.TopicE2E // the seal and protocol packages agree on the topic
	if seal.ParamsTopic != protocol.TopicE2E {
		t.Errorf("seal.ParamsTopic %q != protocol.TopicE2E %q", seal.ParamsTopic, protocol.TopicE2E)
	}
}

// The plaintext path stays as it was for clients without E2E: encoding a
// payload allocates nothing more.
func TestPlaintextPathAllocs(t *testing.T) {
	c := &Client{}
	var raw any = json.RawMessage(`{"n":1}`) // boxed once, as by the caller
	if n := testing.AllocsPerRun(100, func() { _, _ = c.payload("t", raw) }); n != 0 {
		t.Errorf("payload without E2E: %v allocations, want 0", n)
	}
}
