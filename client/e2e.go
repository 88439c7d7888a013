package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/seal"
)

// E2E configures end-to-end encryption of payloads (Options.E2E): the
// client seals what it publishes and opens what it receives with the
// seal package, so that the server routes ciphertext it cannot read. See
// the package documentation ("End-to-end encryption") and docs/e2e.md.
type E2E struct {
	// Passphrase: the session's root key is Argon2id of it over the salt
	// and cost in the session's parameters ($meta.e2e). Exactly one of
	// Passphrase and Secret is required. It is used as its UTF-8 bytes:
	// normalise text typed by a user to NFC first.
	Passphrase string
	// Secret: a random 256-bit secret in base64url (seal.NewSecret), for
	// example from an invite link's #fragment; the root key is the secret
	// itself, without Argon2id. Exactly one of Passphrase and Secret is
	// required. A passphrase session and a secret session never mix: a
	// client with the other kind fails to join with seal.ErrWrongKey.
	Secret string
	// Signed selects signed mode (tier B: every envelope carries an
	// Ed25519 signature, and receivers check the sender's key) when this
	// client is the one that creates the session's parameters. When it
	// joins a session whose parameters exist, the session's mode wins.
	// Default false.
	Signed bool
	// Identity is the client's signing key in signed mode. Default: a new
	// one per Client. Persist it (Identity.Seed, seal.IdentityFromSeed) to
	// keep a name's key stable across restarts: peers pin a name to the
	// first key they see and refuse another (seal.ErrKeyChanged).
	Identity *seal.Identity
	// KeyRing holds the name → key pins of signed mode. Default: a new,
	// empty ring per Client. Share or pre-fill one to trust keys learned
	// out of band.
	KeyRing *seal.KeyRing
	// RejectPlaintext drops plaintext payloads on topics other than
	// $meta. ones, reporting each to OnError as an *OpenError wrapping
	// ErrPlaintext. Default false: they are delivered with
	// Message.Encrypted false (operator messages and broadcasts are
	// plaintext).
	RejectPlaintext bool
}

// OpenError is what Options.OnError receives when a payload that arrived
// sealed could not be opened (or, with E2E.RejectPlaintext, arrived in
// plaintext). The message is dropped: no handler sees it. Err wraps one
// of the seal package's sentinels (seal.ErrWrongKey, ErrAuth, ErrReplay,
// ErrStale, ErrUnsigned, ErrUnknownSender, ErrKeyChanged, ErrMalformed,
// ErrEpoch) or ErrPlaintext: test with errors.Is.
type OpenError struct {
	Topic         string // the topic it arrived on; a response: the request's topic
	PublisherName string // as the server stamped it
	SessionID     string
	Seq           uint64 // 0 for requests, sends, responses and broadcasts
	Err           error
}

func (e *OpenError) Error() string {
	var b strings.Builder
	b.WriteString("client: open payload on ")
	b.WriteString(quote(e.Topic))
	b.WriteString(" from ")
	b.WriteString(quote(e.PublisherName))
	if e.Seq != 0 {
		b.WriteString(" (seq ")
		b.WriteString(strconv.FormatUint(e.Seq, 10))
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "client: "))
	return b.String()
}

func (e *OpenError) Unwrap() error { return e.Err }

// Errors of end-to-end encryption.
var (
	// ErrPlaintext: a payload arrived unsealed in an end-to-end encrypted
	// session whose E2E.RejectPlaintext is set. Reported inside an
	// *OpenError.
	ErrPlaintext = errors.New("client: plaintext payload in an end-to-end encrypted session")
	// ErrInvalidE2E: Options.E2E has neither or both of Passphrase and
	// Secret, or a Secret that is not 256 bits of base64url.
	ErrInvalidE2E = errors.New("client: invalid end-to-end options")
	// ErrUnknownRequest: Client.Reply in an end-to-end encrypted session
	// for a reply_to this client has not received (or has forgotten, after
	// the longest request timeout): a reply is sealed with its request's
	// topic, which only the request carries. Message.Reply always knows it.
	ErrUnknownRequest = errors.New("client: reply to an unknown request: its topic is needed to seal the reply")
)

// keysTopicPrefix is what seal.KeysTopic puts before the hex key id.
const keysTopicPrefix = "$meta.e2e.keys."

// Bounds of the e2e state: everything a server (or a peer) can make the
// client remember is bounded.
const (
	maxCachedRoots         = 4    // Argon2id outputs, one per (salt, cost)
	maxCachedSessions      = 4    // seal sessions, one per parameter set
	maxCachedAnnouncements = 1024 // raw values seen on $meta.e2e.keys.*
	maxRememberedRequests  = 4096 // reply_to → topic, for Client.Reply
	missingKeyTTL          = time.Second
)

func isE2ETopic(topic string) bool {
	return topic == seal.ParamsTopic || strings.HasPrefix(topic, keysTopicPrefix)
}

// e2eState is a client's end-to-end encryption: the current seal.Session
// (and the previous one, for envelopes still in flight after a rotation),
// the cached root keys, the identity and key ring, and the announcements
// seen. It outlives connections: sequence numbers and replay state carry
// over reconnects.
//
// Locks: applyMu serialises session changes (and so Argon2id runs); mu is
// a leaf lock, never held while calling into the Client. Fields marked
// "dispatcher" are only touched on the handler goroutine.
type e2eState struct {
	c      *Client
	opts   E2E
	secret []byte // the root in secret mode
	ring   *seal.KeyRing

	cur atomic.Pointer[seal.Session]

	applyMu sync.Mutex

	mu       sync.Mutex
	prev     *seal.Session   // the session before the current one, for envelopes in flight
	sessions []*seal.Session // recent sessions, reused when their parameters come back
	identity *seal.Identity
	roots    map[string][]byte
	joined   chan struct{} // closed when the first session is in place, or joining failed
	joinErr  error
	anns     map[string][]byte // keys topic → raw payload last seen
	waiters  map[string][]chan struct{}
	missing  map[seal.KeyID]time.Time
	requests map[string]string // reply_to → topic
	reqOrder []reqMark

	// dispatcher
	ready bool       // held messages were flushed: deliver directly
	early []*Message // messages that arrived before the first session
}

type reqMark struct {
	replyTo string
	at      time.Time
}

func newE2EState(c *Client, o *E2E) (*e2eState, error) {
	if (o.Passphrase == "") == (o.Secret == "") {
		return nil, fmt.Errorf("%w: set exactly one of Passphrase and Secret", ErrInvalidE2E)
	}
	e := &e2eState{
		c:        c,
		opts:     *o,
		ring:     o.KeyRing,
		identity: o.Identity,
		roots:    make(map[string][]byte),
		joined:   make(chan struct{}),
		anns:     make(map[string][]byte),
		waiters:  make(map[string][]chan struct{}),
		missing:  make(map[seal.KeyID]time.Time),
		requests: make(map[string]string),
	}
	if o.Secret != "" {
		root, err := seal.ParseSecret(o.Secret)
		if err != nil {
			return nil, fmt.Errorf("%w: secret: %w", ErrInvalidE2E, err)
		}
		e.secret = root
	}
	if e.ring == nil {
		e.ring = seal.NewKeyRing()
	}
	return e, nil
}

// join runs in Dial once the first connection is up: it subscribes to
// $meta.e2e, creates the session's parameters when there are none, and
// waits until a session is in place, all within ctx (Options.ConnectTimeout).
func (e *e2eState) join(ctx context.Context) error {
	_, seq, err := e.c.subscribeSeq(ctx, seal.ParamsTopic)
	if err != nil {
		return err
	}
	if seq == 0 {
		if err := e.create(ctx); err != nil {
			return err
		}
	}
	select {
	case <-e.joined:
	case <-ctx.Done():
		return fmt.Errorf("end-to-end encryption: no session parameters on %s: %w", seal.ParamsTopic, ctx.Err())
	}
	e.mu.Lock()
	err = e.joinErr
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if s := e.cur.Load(); s.Signed() {
		return e.announce(ctx)
	}
	return nil
}

// create makes new parameters and publishes them with if_seq 0. Losing
// the race (conflict) is fine: the winner's value arrives on the
// subscription and is applied.
func (e *e2eState) create(ctx context.Context) error {
	var p seal.Params
	if e.secret != nil {
		p = seal.NewSecretParams(e.opts.Signed)
	} else {
		var err error
		if p, err = seal.NewParams(e.opts.Signed); err != nil {
			return err
		}
	}
	root, err := e.rootFor(p)
	if err != nil {
		return err
	}
	if err := p.SetKeyCheck(root, e.c.SessionID()); err != nil {
		return err
	}
	if _, err := e.c.PublishIfSeq(ctx, seal.ParamsTopic, 0, p); err != nil {
		if errors.Is(err, &protocol.Error{Code: protocol.CodeConflict}) {
			return nil
		}
		return err
	}
	if err := e.apply(p); err != nil && e.cur.Load() == nil {
		e.failJoin(fmt.Errorf("end-to-end encryption: %w", err))
	}
	return nil
}

// apply makes p the session's parameters: the first value; a successor of
// the current one (seal.Params.CheckSuccessor: higher epoch, no
// downgrade); or another value of the same epoch that weakens nothing,
// which a member created after the server lost the parameters (see
// resubscribed): every member adopts the retained value, so that the
// session converges on one key. Either way the value's key check must
// match this client's passphrase or secret, so only a key holder can have
// made it. The same value again is a no-op; an older epoch is refused.
func (e *e2eState) apply(p seal.Params) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	cur := e.cur.Load()
	if cur != nil {
		cp := cur.Params()
		if sameParams(&cp, &p) {
			return nil
		}
		next := p
		if p.Epoch == cp.Epoch {
			// The no-downgrade rules of a rotation, without the higher
			// epoch.
			next.Epoch++
		}
		if err := cp.CheckSuccessor(next); err != nil {
			return err
		}
	} else if err := p.Validate(); err != nil {
		return err
	}
	s, err := e.session(p)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.prev = cur
	e.mu.Unlock()
	e.cur.Store(s)
	if cur == nil {
		// Messages held until now are opened on the handler goroutine,
		// ahead of anything that arrives later.
		e.c.disp.push(dispItem{kind: dispFunc, fn: e.flushEarly})
		e.mu.Lock()
		close(e.joined)
		e.mu.Unlock()
	} else {
		e.c.log.Info("switchboard: end-to-end parameters rotated", "epoch", p.Epoch, "signed", p.Signed)
	}
	return nil
}

// session returns a session for p: a recent one with the same parameters
// (so that a relay that alternates between two values cannot reset the
// replay state), else a new one, which checks the root against p's key
// check.
func (e *e2eState) session(p seal.Params) (*seal.Session, error) {
	e.mu.Lock()
	for _, s := range e.sessions {
		if sp := s.Params(); sameParams(&sp, &p) {
			e.mu.Unlock()
			return s, nil
		}
	}
	e.mu.Unlock()
	root, err := e.rootFor(p)
	if err != nil {
		return nil, err
	}
	id, err := e.identityFor(p.Signed)
	if err != nil {
		return nil, err
	}
	s, err := seal.NewSession(e.c.SessionID(), root, p, id, seal.WithKeyRing(e.ring))
	if err != nil {
		if errors.Is(err, seal.ErrWrongKey) {
			what := "passphrase"
			if e.secret != nil {
				what = "secret"
			}
			err = fmt.Errorf("wrong %s for session %q: %w", what, e.c.SessionID(), err)
		}
		return nil, err
	}
	e.mu.Lock()
	if len(e.sessions) >= maxCachedSessions {
		e.sessions = append(e.sessions[:0], e.sessions[1:]...)
	}
	e.sessions = append(e.sessions, s)
	e.mu.Unlock()
	return s, nil
}

// failJoin ends a join that cannot succeed (wrong key, refused
// parameters): Dial returns err.
func (e *e2eState) failJoin(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.joined:
	default:
		e.joinErr = err
		close(e.joined)
	}
}

func sameParams(a, b *seal.Params) bool {
	return a.Version == b.Version && a.KDF == b.KDF && bytes.Equal(a.Salt, b.Salt) &&
		a.Time == b.Time && a.MemoryKiB == b.MemoryKiB && a.Threads == b.Threads &&
		a.Epoch == b.Epoch && a.Signed == b.Signed && bytes.Equal(a.KeyCheck, b.KeyCheck)
}

// rootFor returns the root key for p: the secret, or Argon2id of the
// passphrase, derived once per (salt, cost) for the client's life.
func (e *e2eState) rootFor(p seal.Params) ([]byte, error) {
	if e.secret != nil {
		if p.KDF != seal.KDFSecret {
			return nil, fmt.Errorf("%w: the session is keyed by a passphrase (kdf %q), this client has a secret", seal.ErrWrongKey, p.KDF)
		}
		return e.secret, nil
	}
	if p.KDF != seal.KDFArgon2id {
		return nil, fmt.Errorf("%w: the session is keyed by a random secret (kdf %q), this client has a passphrase", seal.ErrWrongKey, p.KDF)
	}
	key := fmt.Sprintf("%x/%d/%d/%d", []byte(p.Salt), p.Time, p.MemoryKiB, p.Threads)
	e.mu.Lock()
	root, ok := e.roots[key]
	e.mu.Unlock()
	if ok {
		return root, nil
	}
	root, err := seal.DeriveRoot(e.opts.Passphrase, p)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if len(e.roots) >= maxCachedRoots {
		clear(e.roots)
	}
	e.roots[key] = root
	e.mu.Unlock()
	return root, nil
}

// identityFor returns the signing identity for a session in the given
// mode: nil when unsigned, else the configured one or one made for this
// client on first need.
func (e *e2eState) identityFor(signed bool) (*seal.Identity, error) {
	if !signed {
		return nil, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.identity == nil {
		id, err := seal.NewIdentity()
		if err != nil {
			return nil, err
		}
		e.identity = id
	}
	return e.identity, nil
}

// announce publishes the client's key announcement as the retained value
// of its keys topic. A conflict means the topic holds a value already:
// fine when it is the same announcement (a reconnect), an error wrapping
// seal.ErrKeyChanged otherwise.
func (e *e2eState) announce(ctx context.Context) error {
	id, err := e.identityFor(true)
	if err != nil {
		return err
	}
	a, err := seal.NewAnnouncement(id, e.c.SessionID(), e.c.Name())
	if err != nil {
		return err
	}
	topic := seal.KeysTopic(id.KeyID())
	_, err = e.c.PublishIfSeq(ctx, topic, 0, a)
	if errors.Is(err, &protocol.Error{Code: protocol.CodeConflict}) {
		var got seal.Announcement
		got, err = e.fetchAnnouncement(ctx, id.KeyID())
		if err == nil && !(got.Version == a.Version && got.Name == a.Name &&
			bytes.Equal(got.PublicKey, a.PublicKey) && bytes.Equal(got.Signature, a.Signature)) {
			err = fmt.Errorf("%w: %s already announces key %s for %q", seal.ErrKeyChanged, topic, id.KeyID(), got.Name)
		}
	}
	if err != nil {
		return fmt.Errorf("end-to-end encryption: announcing key %s: %w", id.KeyID(), err)
	}
	return nil
}

// resubscribed runs on the handler goroutine after $meta.e2e was
// subscribed again on a new connection. seq 0 means the server lost the
// parameters (a restart without durable storage): the client publishes
// its own again with if_seq 0, so that the session keeps its key; a
// conflict means another member was first, with the same value or one
// that apply judges. In signed mode the key announcement is renewed too.
func (e *e2eState) resubscribed(seq uint64) {
	s := e.cur.Load()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(e.c.ctx, e.c.opts.CallTimeout)
	defer cancel()
	if seq == 0 {
		_, err := e.c.PublishIfSeq(ctx, seal.ParamsTopic, 0, s.Params())
		if err != nil && !errors.Is(err, &protocol.Error{Code: protocol.CodeConflict}) {
			e.c.reportError(wrap("end-to-end parameters", err))
		}
	}
	if s.Signed() {
		if err := e.announce(ctx); err != nil {
			e.c.reportError(wrap("end-to-end parameters", err))
		}
	}
}

// onParams handles a value of $meta.e2e on the handler goroutine, in
// order with the messages around it: messages sealed under a new epoch
// arrive after the parameters that introduce it.
func (e *e2eState) onParams(m *Message) {
	before := e.cur.Load()
	var p seal.Params
	err := json.Unmarshal(m.Payload, &p)
	if err != nil {
		err = fmt.Errorf("%w: %s from %q: %v", seal.ErrInvalidParams, seal.ParamsTopic, m.PublisherName, err)
	} else {
		err = e.apply(p)
	}
	if err != nil {
		if e.cur.Load() == nil {
			e.failJoin(fmt.Errorf("end-to-end encryption: %w", err))
			return
		}
		e.c.reportError(wrap("end-to-end parameters: refused the value of "+seal.ParamsTopic+" from "+quote(m.PublisherName), err))
		return
	}
	// Dial announces the key of a session that starts signed; a rotation
	// may turn signing on.
	if after := e.cur.Load(); before != nil && !before.Signed() && after.Signed() {
		ctx, cancel := context.WithTimeout(e.c.ctx, e.c.opts.CallTimeout)
		defer cancel()
		if err := e.announce(ctx); err != nil {
			e.c.reportError(wrap("end-to-end parameters", err))
		}
	}
}

// prepare runs on the handler goroutine before m reaches a handler. It
// opens a sealed payload, holds messages that arrive before the session
// is known, and reports whether m is to be delivered.
func (e *e2eState) prepare(m *Message) bool {
	if protocol.IsMeta(m.Topic) {
		if m.Topic == seal.ParamsTopic {
			e.onParams(m)
		}
		return true
	}
	if !e.ready {
		if len(e.early) < e.c.opts.DispatchQueueSize {
			e.early = append(e.early, m)
		} else {
			e.c.log.Warn("switchboard: message dropped while joining the end-to-end session", "topic", m.Topic)
		}
		return false
	}
	if oe := e.openMessage(e.c.ctx, m); oe != nil {
		e.c.reportError(oe)
		return false
	}
	return true
}

// flushEarly runs on the handler goroutine once the first session is in
// place: the messages held until then are opened and delivered in order.
func (e *e2eState) flushEarly() {
	if e.ready || e.cur.Load() == nil {
		return
	}
	e.ready = true
	early := e.early
	e.early = nil
	for _, m := range early {
		if e.c.isClosed() {
			return
		}
		if oe := e.openMessage(e.c.ctx, m); oe != nil {
			e.c.reportError(oe)
			continue
		}
		e.c.route(m)
	}
}

// openMessage opens m's payload in place when it is sealed (Payload
// becomes the plaintext JSON, Encrypted true), and judges a plaintext
// one. parent bounds a key fetch in signed mode.
func (e *e2eState) openMessage(parent context.Context, m *Message) *OpenError {
	payload, sealed := sealedPayload(m.Payload)
	if !sealed {
		if e.opts.RejectPlaintext {
			return &OpenError{Topic: m.Topic, PublisherName: m.PublisherName, SessionID: m.SessionID, Seq: m.Seq, Err: ErrPlaintext}
		}
	} else {
		pt, err := e.open(parent, m.Topic, m.PublisherName, payload)
		if err != nil {
			return &OpenError{Topic: m.Topic, PublisherName: m.PublisherName, SessionID: m.SessionID, Seq: m.Seq, Err: err}
		}
		m.Payload, m.Encrypted = pt, true
	}
	if m.ReplyTo != "" {
		e.rememberRequest(m.ReplyTo, m.Topic)
	}
	return nil
}

// open authenticates and decrypts payload. An envelope of the previous
// epoch (in flight during a rotation) opens with the previous session; an
// unknown sender key in signed mode is fetched, verified and pinned, then
// the envelope is opened again.
func (e *e2eState) open(parent context.Context, topic, publisher, payload string) ([]byte, error) {
	s := e.cur.Load()
	if s == nil {
		return nil, fmt.Errorf("%w: no session parameters yet", seal.ErrEpoch)
	}
	pt, err := s.Open(topic, publisher, payload)
	if errors.Is(err, seal.ErrEpoch) || errors.Is(err, seal.ErrAuth) {
		// Maybe sealed under the previous parameters before the sender
		// saw the new ones: a rotation (another epoch), or the same
		// epoch after a restart (another key).
		e.mu.Lock()
		prev := e.prev
		e.mu.Unlock()
		if h, herr := seal.Inspect(payload); herr == nil && prev != nil && h.Epoch == prev.Epoch() {
			if ppt, perr := prev.Open(topic, publisher, payload); !errors.Is(perr, seal.ErrAuth) || errors.Is(err, seal.ErrEpoch) {
				s, pt, err = prev, ppt, perr
			}
		}
	}
	if errors.Is(err, seal.ErrUnknownSender) {
		if kerr := e.learnKey(parent, s, publisher, payload); kerr != nil {
			return nil, kerr
		}
		pt, err = s.Open(topic, publisher, payload)
	}
	if err != nil {
		return nil, err
	}
	if !json.Valid(pt) {
		return nil, fmt.Errorf("%w: the plaintext is not one JSON value", seal.ErrMalformed)
	}
	return pt, nil
}

// learnKey fetches the announcement of the key that signed payload,
// checks it for publisher in s's session and pins it.
func (e *e2eState) learnKey(parent context.Context, s *seal.Session, publisher, payload string) error {
	h, err := seal.Inspect(payload)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(parent, e.c.opts.CallTimeout)
	defer cancel()
	a, err := e.fetchAnnouncement(ctx, h.KeyID)
	if err != nil {
		return err
	}
	pub, err := seal.VerifyAnnouncement(a, s.SessionID(), publisher)
	if err == nil && seal.KeyIDOf(pub) != h.KeyID {
		err = fmt.Errorf("%w: %s announces key %s", seal.ErrAuth, seal.KeysTopic(h.KeyID), seal.KeyIDOf(pub))
	}
	if err != nil {
		e.forgetAnnouncement(seal.KeysTopic(h.KeyID))
		return err
	}
	return e.ring.Pin(publisher, pub)
}

// fetchAnnouncement returns the retained announcement of key id: from the
// values seen, else by subscribing to its topic for the retained value
// (and unsubscribing). The subscribe ack's seq 0 says there is none.
func (e *e2eState) fetchAnnouncement(ctx context.Context, id seal.KeyID) (seal.Announcement, error) {
	topic := seal.KeysTopic(id)
	ch := make(chan struct{}, 1)
	e.mu.Lock()
	raw, ok := e.anns[topic]
	if !ok {
		if t, miss := e.missing[id]; miss && time.Since(t) < missingKeyTTL {
			e.mu.Unlock()
			return seal.Announcement{}, fmt.Errorf("%w: %s holds no announcement", seal.ErrUnknownSender, topic)
		}
		e.waiters[topic] = append(e.waiters[topic], ch)
	}
	e.mu.Unlock()
	if !ok {
		defer e.unwait(topic, ch)
		sub, seq, err := e.c.subscribeSeq(ctx, topic)
		if err != nil {
			return seal.Announcement{}, fmt.Errorf("%w: fetching %s: %w", seal.ErrUnknownSender, topic, err)
		}
		defer sub.unsubscribe()
		if seq == 0 {
			e.mu.Lock()
			raw, ok = e.anns[topic]
			if !ok {
				if len(e.missing) >= maxCachedAnnouncements {
					clear(e.missing)
				}
				e.missing[id] = time.Now()
			}
			e.mu.Unlock()
			if !ok {
				return seal.Announcement{}, fmt.Errorf("%w: %s holds no announcement", seal.ErrUnknownSender, topic)
			}
		}
		for !ok {
			select {
			case <-ch:
			case <-ctx.Done():
				return seal.Announcement{}, fmt.Errorf("%w: fetching %s: %w", seal.ErrUnknownSender, topic, ctx.Err())
			}
			e.mu.Lock()
			raw, ok = e.anns[topic]
			e.mu.Unlock()
		}
	}
	var a seal.Announcement
	if err := json.Unmarshal(raw, &a); err != nil {
		e.forgetAnnouncement(topic)
		return a, fmt.Errorf("%w: announcement on %s: %v", seal.ErrMalformed, topic, err)
	}
	return a, nil
}

func (e *e2eState) unwait(topic string, ch chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ws := e.waiters[topic]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(e.waiters, topic)
	} else {
		e.waiters[topic] = ws
	}
}

func (e *e2eState) forgetAnnouncement(topic string) {
	e.mu.Lock()
	delete(e.anns, topic)
	e.mu.Unlock()
}

// keySeen records a value of a keys topic. It runs on the reader, so that
// a fetch blocked on the handler goroutine gets the value.
func (e *e2eState) keySeen(topic string, payload []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.anns[topic]; !ok && len(e.anns) >= maxCachedAnnouncements {
		clear(e.anns)
	}
	e.anns[topic] = payload
	for _, ch := range e.waiters[topic] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// rememberRequest records the topic of a request received, for
// Client.Reply, for the longest time a request can wait.
func (e *e2eState) rememberRequest(replyTo, topic string) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.reqOrder) > 0 {
		old := e.reqOrder[0]
		if len(e.reqOrder) < maxRememberedRequests && now.Sub(old.at) <= protocol.MaxRequestTimeout+time.Second {
			break
		}
		delete(e.requests, old.replyTo)
		e.reqOrder = e.reqOrder[1:]
	}
	if _, ok := e.requests[replyTo]; !ok {
		e.reqOrder = append(e.reqOrder, reqMark{replyTo: replyTo, at: now})
	}
	e.requests[replyTo] = topic
}

func (e *e2eState) requestTopic(replyTo string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.requests[replyTo]
	return t, ok
}

// sealPayload seals the JSON payload raw for topic under the client's
// name and returns it as the JSON string "e2e:…". $meta. topics are never
// sealed.
func (e *e2eState) sealPayload(topic string, raw json.RawMessage) (json.RawMessage, error) {
	if protocol.IsMeta(topic) {
		return raw, nil
	}
	s := e.cur.Load()
	if s == nil {
		return nil, fmt.Errorf("%w: the client has not joined the end-to-end session", seal.ErrEpoch)
	}
	str, err := s.Seal(topic, e.c.opts.Name, raw)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(str)+2)
	out = append(out, '"')
	out = append(out, str...)
	return append(out, '"'), nil
}

// sealedPayload returns the string value of a JSON payload that holds a
// sealed envelope. Escapes are decoded, so that a sealed payload cannot
// pass for plaintext by spelling its prefix with \u escapes.
func sealedPayload(raw []byte) (string, bool) {
	if len(raw) < 2+len(seal.Prefix) || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		if !bytes.HasPrefix(raw[1:], []byte(seal.Prefix)) {
			return "", false
		}
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, seal.IsSealed(s)
}

// Encrypted reports whether the client seals and opens payloads: Options.E2E
// is set and the client has joined the session's end-to-end parameters
// (always true once Dial returned, with E2E set).
func (c *Client) Encrypted() bool {
	return c.e2e != nil && c.e2e.cur.Load() != nil
}

// E2EParams returns the session's current end-to-end parameters (the
// value of $meta.e2e the client uses) and true, or false without
// Options.E2E.
func (c *Client) E2EParams() (seal.Params, bool) {
	if c.e2e == nil {
		return seal.Params{}, false
	}
	s := c.e2e.cur.Load()
	if s == nil {
		return seal.Params{}, false
	}
	return s.Params(), true
}
