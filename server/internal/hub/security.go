package hub

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Permissions is what a connection may do beyond joining its session, as
// the transport learned it (from a signed token): plain data, so that the
// hub knows nothing of tokens. A nil *Permissions allows every topic and no
// service role (open development mode, or a token without topic claims).
type Permissions struct {
	// Publish lists the topic patterns (protocol.Match) on which the
	// connection may publish, request and send. Nil: any topic; empty but
	// not nil: none.
	Publish []string
	// Subscribe lists the patterns the connection may subscribe within: a
	// subscription pattern must be covered by one of them (every topic it
	// matches is matched by the allowed pattern). Nil: any; empty: none.
	Subscribe []string
	// Service allows the cross-session operations of a backend service:
	// subscribe and unsubscribe with all_sessions, publish and reply with
	// the session_id of another session. Nothing else reaches across
	// sessions.
	Service bool
}

// Errors of the permission checks.
var (
	errPubDenied  = perr(protocol.CodeForbidden, "the token does not allow this topic")
	errSubDenied  = perr(protocol.CodeForbidden, "the token does not allow subscribing to this pattern")
	errNotService = perr(protocol.CodeForbidden, "all_sessions and a foreign session_id need a service token")
	errAllSince   = perr(protocol.CodeBadRequest, "since is not available with all_sessions")
	errBadTarget  = perr(protocol.CodeBadRequest, "invalid session_id")
)

// connSec is a Conn's security state.
type connSec struct {
	perms atomic.Pointer[Permissions] // nil: everything but the service role
	svc   []string                    // all-sessions patterns; changed by the owner only, under Hub.sec.svcMu
}

// hubSec is the Hub's state for service subscriptions and its metrics.
type hubSec struct {
	svcMu    sync.Mutex                 // guards svcSet and every connSec.svc; taken after session.mu
	svcSet   map[*Conn]struct{}         // connections with all-sessions subscriptions
	services atomic.Pointer[[]svcEntry] // immutable snapshot of svcSet for fan-out; nil: none

	slowConsumers atomic.Uint64
	queueDrops    atomic.Uint64
	retired       [numShards]sessMetrics // of removed sessions; guarded by the shard's mu
}

// SetPermissions sets what c may do. Call it before Register; for a
// connection already registered (a token refresh) use
// Hub.UpdatePermissions.
func (c *Conn) SetPermissions(p *Permissions) { c.sec.perms.Store(p) }

// Permissions returns c's permissions (nil: any topic, no service role).
func (c *Conn) Permissions() *Permissions { return c.sec.perms.Load() }

// IsService reports whether c has the service role.
func (c *Conn) IsService() bool {
	p := c.sec.perms.Load()
	return p != nil && p.Service
}

// maySend checks a topic c publishes, requests or sends on.
func (c *Conn) maySend(topic string) *protocol.Error {
	p := c.sec.perms.Load()
	if p == nil || p.Publish == nil {
		return nil
	}
	for _, allowed := range p.Publish {
		if protocol.Match(allowed, topic) {
			return nil
		}
	}
	return errPubDenied
}

// mayReceive checks a pattern c subscribes to.
func (c *Conn) mayReceive(pattern string) *protocol.Error {
	if !c.sec.perms.Load().allowsSubscribe(pattern) {
		return errSubDenied
	}
	return nil
}

func (p *Permissions) allowsSubscribe(pattern string) bool {
	if p == nil || p.Subscribe == nil {
		return true
	}
	for _, allowed := range p.Subscribe {
		if Covers(allowed, pattern) {
			return true
		}
	}
	return false
}

// Covers reports whether every topic that pattern matches is also matched
// by allowed (both valid patterns): a literal token covers only itself,
// "*" covers any one token (a literal or "*"), and a final ">" covers one
// or more tokens of any kind. As in protocol.Match, a wildcard in the
// first token never covers a reserved ($) topic.
func Covers(allowed, pattern string) bool {
	if strings.HasPrefix(pattern, "$") && (strings.HasPrefix(allowed, "*") || strings.HasPrefix(allowed, ">")) {
		return false
	}
	for {
		a, arest, amore := strings.Cut(allowed, ".")
		p, prest, pmore := strings.Cut(pattern, ".")
		switch {
		case a == ">":
			return true
		case a == "*":
			if p == ">" {
				return false
			}
		case a != p:
			return false
		}
		if !amore || !pmore {
			return amore == pmore
		}
		allowed, pattern = arest, prest
	}
}

// checkTarget checks the session_id of an object that may address another
// session: only a service may.
func (c *Conn) checkTarget(sessionID string) *protocol.Error {
	if sessionID == "" || sessionID == c.session {
		return nil
	}
	if !c.IsService() {
		return errForeign
	}
	if protocol.ValidateSessionID(sessionID) != nil {
		return errBadTarget
	}
	return nil
}

// targetID is the session an object addresses (checked by checkTarget).
func (c *Conn) targetID(sessionID string) string {
	if sessionID == "" {
		return c.session
	}
	return sessionID
}

// lockTarget locks and returns the session an object of c addresses (its
// own, or for a service the one its session_id names), creating it when
// create is set; nil when it does not exist.
func (h *Hub) lockTarget(c *Conn, sessionID string, create bool) *session {
	if sessionID == "" || sessionID == c.session {
		c.sess.mu.Lock()
		return c.sess
	}
	return h.lockSession(sessionID, create)
}

// UpdatePermissions replaces the permissions of a registered connection
// (a token refresh). Subscriptions the new permissions do not allow are
// removed, all-sessions ones too when the service role is gone; it returns
// their patterns.
func (h *Hub) UpdatePermissions(c *Conn, p *Permissions) (dropped []string) {
	if !c.live.Load() {
		c.sec.perms.Store(p)
		return nil
	}
	s := c.sess
	s.mu.Lock()
	c.sec.perms.Store(p)
	now := time.Now()
	for pattern, sb := range c.subs {
		if !p.allowsSubscribe(pattern) {
			s.detach(sb, now)
			dropped = append(dropped, pattern)
		}
	}
	h.sec.svcMu.Lock()
	keep := c.sec.svc[:0]
	for _, pattern := range c.sec.svc {
		if p != nil && p.Service && p.allowsSubscribe(pattern) {
			keep = append(keep, pattern)
		} else {
			dropped = append(dropped, pattern)
		}
	}
	clear(c.sec.svc[len(keep):])
	c.sec.svc = keep
	h.servicesChangedLocked(c)
	h.sec.svcMu.Unlock()
	s.mu.Unlock()
	slices.Sort(dropped)
	return dropped
}

// svcEntry is one service connection and its all-sessions patterns, as
// fan-out sees them.
type svcEntry struct {
	conn     *Conn
	patterns []string // immutable
}

// servicesChangedLocked publishes a new snapshot of the all-sessions
// subscriptions after c's changed (copy on write: fan-out reads it without
// locks). Called with svcMu held.
func (h *Hub) servicesChangedLocked(c *Conn) {
	if len(c.sec.svc) > 0 {
		if h.sec.svcSet == nil {
			h.sec.svcSet = make(map[*Conn]struct{})
		}
		h.sec.svcSet[c] = struct{}{}
	} else {
		delete(h.sec.svcSet, c)
	}
	if len(h.sec.svcSet) == 0 {
		h.sec.services.Store(nil)
		h.serviceInterest(false) // cluster_services.go
		return
	}
	h.serviceInterest(true)
	list := make([]svcEntry, 0, len(h.sec.svcSet))
	for sc := range h.sec.svcSet {
		list = append(list, svcEntry{conn: sc, patterns: slices.Clone(sc.sec.svc)})
	}
	h.sec.services.Store(&list)
}

// subscribeAll subscribes a service connection to pattern in every
// session. Messages of every session reach it (each carries its
// session_id), retained values are not replayed, and since is refused.
func (h *Hub) subscribeAll(c *Conn, f *protocol.Frame) *protocol.Error {
	if err := needID(f.ID); err != nil {
		return err
	}
	if _, err := patternErr(f.Topic); err != nil {
		return err
	}
	if f.Since != nil {
		return errAllSince
	}
	if !c.live.Load() {
		return errNotReady
	}
	if !c.IsService() {
		return errNotService
	}
	if err := c.mayReceive(f.Topic); err != nil {
		return err
	}
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	h.sec.svcMu.Lock()
	if !slices.Contains(c.sec.svc, f.Topic) {
		if len(c.subs)+len(c.sec.svc) >= h.opts.MaxSubscriptions {
			h.sec.svcMu.Unlock()
			return errTooManySub
		}
		c.sec.svc = append(c.sec.svc, f.Topic)
		h.servicesChangedLocked(c)
	}
	h.sec.svcMu.Unlock()
	ack(c, &protocol.Ack{ID: f.ID})
	return nil
}

// unsubscribeAll removes an all-sessions subscription.
func (h *Hub) unsubscribeAll(c *Conn, f *protocol.Frame) *protocol.Error {
	if err := needID(f.ID); err != nil {
		return err
	}
	if _, err := patternErr(f.Topic); err != nil {
		return err
	}
	if !c.live.Load() {
		return errNotReady
	}
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	h.sec.svcMu.Lock()
	i := slices.Index(c.sec.svc, f.Topic)
	if i >= 0 {
		c.sec.svc = slices.Delete(c.sec.svc, i, i+1)
		h.servicesChangedLocked(c)
	}
	h.sec.svcMu.Unlock()
	if i < 0 {
		return errNoSub
	}
	ack(c, &protocol.Ack{ID: f.ID})
	return nil
}

// dropServiceSubs forgets c's all-sessions subscriptions (Unregister).
func (h *Hub) dropServiceSubs(c *Conn) {
	if h.sec.services.Load() == nil {
		return // c has none either: only its owner adds them, and that is our caller
	}
	h.sec.svcMu.Lock()
	if len(c.sec.svc) > 0 {
		c.sec.svc = nil
		h.servicesChangedLocked(c)
	}
	h.sec.svcMu.Unlock()
}

// fanout queues b to the subscribers of topic in s (fanoutLocal), then to
// the service connections subscribed to it in every session, and records
// the fan-out size. Called with s.mu held; it returns the number of
// connections reached. Without service subscriptions the extra cost is one
// atomic load.
func (s *session) fanout(st *stream, topic string, b []byte, publisher *Conn) int {
	n := s.fanoutLocal(st, topic, b, publisher)
	if s.h != nil {
		if p := s.h.sec.services.Load(); p != nil {
			n += s.fanoutServices(*p, topic, b, publisher)
		}
	}
	s.m.observeFanout(n)
	return n
}

// fanoutServices delivers b to each service connection with a matching
// all-sessions subscription, once, unless that connection is a member of s
// that already got b through one of its own subscriptions.
func (s *session) fanoutServices(list []svcEntry, topic string, b []byte, publisher *Conn) int {
	n := 0
	for i := range list {
		c := list[i].conn
		if c == publisher && !c.echo {
			continue
		}
		if !matchesAny(list[i].patterns, topic) {
			continue
		}
		if c.sess == s && c.matchesOwn(topic) {
			continue // delivered by fanoutLocal (s.mu guards c.subs)
		}
		if c.Enqueue(b) {
			n++
		}
	}
	return n
}

func matchesAny(patterns []string, topic string) bool {
	for _, p := range patterns {
		if protocol.Match(p, topic) {
			return true
		}
	}
	return false
}

// matchesOwn reports whether one of c's subscriptions in its own session
// matches topic. Called with c.sess.mu held.
func (c *Conn) matchesOwn(topic string) bool {
	for p := range c.subs {
		if protocol.Match(p, topic) {
			return true
		}
	}
	return false
}

// noteSlowConsumer counts a connection closed as a slow consumer and the
// objects its queue lost.
func (s *hubSec) noteSlowConsumer(dropped int) {
	s.slowConsumers.Add(1)
	s.queueDrops.Add(uint64(dropped))
}
