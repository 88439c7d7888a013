package server

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	xrate "golang.org/x/time/rate"

	"github.com/switchboardhq/switchboard/protocol"
)

// Defaults of the security and operations settings.
const (
	DefaultPublishRate          = 10_000
	DefaultSessionPublishRate   = 100_000
	DefaultSubscribeRate        = 100
	DefaultMaxRateLimited       = 1000
	DefaultReadHeaderTimeout    = 5 * time.Second
	DefaultTLSReloadEvery       = 10 * time.Second
	DefaultCompressionThreshold = 512

	rateLimitWindow = 10 * time.Second
)

// securityDefaults validates the security settings and fills in their
// defaults.
func (c *Config) securityDefaults() error {
	if n := len(c.AuthSecret); n > 0 && n < MinSecretBytes {
		return fmt.Errorf("%w: auth secret of %d bytes: at least %d needed", ErrConfig, n, MinSecretBytes)
	}
	if n := len(c.AuthPublicKey); n > 0 && n != ed25519.PublicKeySize {
		return fmt.Errorf("%w: auth public key of %d bytes: not an Ed25519 key", ErrConfig, n)
	}
	rateDefault := func(r *float64, def float64) {
		if *r == 0 || math.IsNaN(*r) {
			*r = def
		}
	}
	rateDefault(&c.PublishRate, DefaultPublishRate)
	rateDefault(&c.SessionPublishRate, DefaultSessionPublishRate)
	rateDefault(&c.SubscribeRate, DefaultSubscribeRate)
	if c.PublishBurst <= 0 {
		c.PublishBurst = burstOf(c.PublishRate)
	}
	if c.MaxRateLimited <= 0 {
		c.MaxRateLimited = DefaultMaxRateLimited
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.TLSReloadEvery <= 0 {
		c.TLSReloadEvery = DefaultTLSReloadEvery
	}
	if c.CompressionThreshold <= 0 {
		c.CompressionThreshold = DefaultCompressionThreshold
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return fmt.Errorf("%w: TLS needs both a certificate and a key file", ErrConfig)
	}
	if c.TLSRedirectAddr != "" && c.TLSCertFile == "" {
		return fmt.Errorf("%w: an HTTP to HTTPS redirect needs TLS", ErrConfig)
	}
	return nil
}

// burstOf is one second's worth of a rate, at least 1.
func burstOf(r float64) int {
	return int(max(1, min(r, math.MaxInt32)))
}

// newLimiter returns a limiter for a rate per second (nil: no limit).
func newLimiter(r float64, burst int) *xrate.Limiter {
	if r < 0 {
		return nil
	}
	return xrate.NewLimiter(xrate.Limit(r), burst)
}

// quotas count connections per session and per remote address, and hold
// each session's shared publish limiter. Its lock is a leaf, never held
// while calling into the hub or a socket.
type quotas struct {
	mu       sync.Mutex
	sessions map[string]*sessionQuota
	addrs    map[string]int
}

type sessionQuota struct {
	conns   int            // guarded by quotas.mu
	limiter *xrate.Limiter // shared by the session's connections; nil: no limit
}

// admitAddr counts one more connection from ip; false when the limit is
// reached.
func (s *Server) admitAddr(ip string) bool {
	q := &s.quotas
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.addrs[ip] >= s.cfg.MaxConnsPerAddr {
		return false
	}
	if q.addrs == nil {
		q.addrs = make(map[string]int)
	}
	q.addrs[ip]++
	return true
}

func (s *Server) releaseAddr(ip string) {
	q := &s.quotas
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.addrs[ip]--; q.addrs[ip] <= 0 {
		delete(q.addrs, ip)
	}
}

// admitSession counts one more connection in a session; nil when its limit
// is reached.
func (s *Server) admitSession(id string) *sessionQuota {
	q := &s.quotas
	q.mu.Lock()
	defer q.mu.Unlock()
	sq := q.sessions[id]
	if sq == nil {
		sq = &sessionQuota{limiter: newLimiter(s.cfg.SessionPublishRate, burstOf(s.cfg.SessionPublishRate))}
		if q.sessions == nil {
			q.sessions = make(map[string]*sessionQuota)
		}
		q.sessions[id] = sq
	}
	if m := s.cfg.MaxConnsPerSession; m > 0 && sq.conns >= m {
		if sq.conns == 0 {
			delete(q.sessions, id)
		}
		return nil
	}
	sq.conns++
	return sq
}

func (s *Server) releaseSession(id string, sq *sessionQuota) {
	q := &s.quotas
	q.mu.Lock()
	defer q.mu.Unlock()
	if sq.conns--; sq.conns <= 0 && q.sessions[id] == sq {
		delete(q.sessions, id)
	}
}

// remoteIP is the address part of a request's RemoteAddr. Forwarding
// headers are not trusted: anyone can set them.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wsGuard is a connection's security state.
type wsGuard struct {
	expires atomic.Int64 // unix ns when its token expires; 0: no token

	// Reader-owned.
	claims       *TokenClaims   // nil without authentication
	pub, sub     *xrate.Limiter // nil: no limit
	sess         *sessionQuota  // counted in its session's quota since hello
	sessID       string
	addr         string // counted in the per-address quota ("": not counted)
	addrHanded   bool   // set by handleWS: from then on, release frees addr
	headerToken  string // from the upgrade's Authorization: Bearer header
	limited      int    // rate_limited errors in the current window
	limitedStart int64
	endStatus    int // the close status the reader ended with (-1: none)
}

// rateClass tells which limiter an object type draws from.
func rateClass(typ string) int {
	switch typ {
	case protocol.TypePublish, protocol.TypeRequest, protocol.TypeReply, protocol.TypeSend:
		return 1
	case protocol.TypeSubscribe, protocol.TypeUnsubscribe, protocol.TypePresence, protocol.TypeRefresh:
		return 2
	}
	return 0
}

// allow applies the rate limits to one object from a welcomed client. When
// it is over a limit, the client gets rate_limited, and more than
// MaxRateLimited of those within 10 s close it with 4429.
func (wc *wsConn) allow(f *protocol.Frame) bool {
	g := &wc.guard
	ok := true
	switch rateClass(f.Type) {
	case 1:
		ok = (g.pub == nil || g.pub.Allow()) && (g.sess == nil || g.sess.limiter == nil || g.sess.limiter.Allow())
	case 2:
		ok = g.sub == nil || g.sub.Allow()
	}
	if ok {
		return true
	}
	srv := wc.srv
	srv.metrics.countError(protocol.CodeRateLimited)
	wc.hc.Enqueue(protocol.AppendError(nil, validID(f.ID), protocol.CodeRateLimited, "rate limit exceeded: slow down"))
	now := srv.now()
	if now-g.limitedStart > int64(rateLimitWindow) {
		g.limitedStart, g.limited = now, 0
	}
	if g.limited++; g.limited > srv.cfg.MaxRateLimited {
		srv.log.Info("rate limit exceeded persistently: closing", "client_id", wc.hc.ID(), "remote", wc.hc.RemoteAddr())
		wc.hc.Close(protocol.CloseRateLimited, "rate limit exceeded")
	}
	return false
}

// admit counts a welcomed connection in its session's quota (closing it
// with 4429 when the session is full), gives it its rate limiters and
// hands the token's permissions to the hub. Called by hello, before
// Register.
func (wc *wsConn) admit(session string) bool {
	s := wc.srv
	g := &wc.guard
	if g.sess != nil { // cannot happen: hello succeeds once
		s.releaseSession(g.sessID, g.sess)
		g.sess = nil
	}
	sq := s.admitSession(session)
	if sq == nil {
		s.metrics.countRefused(refuseSession)
		s.log.Debug("hello refused: session full", "remote", wc.hc.RemoteAddr(), "session", session)
		wc.hc.Close(protocol.CloseRateLimited, "too many connections in this session")
		return false
	}
	g.sess, g.sessID = sq, session
	g.pub = newLimiter(s.cfg.PublishRate, s.cfg.PublishBurst)
	g.sub = newLimiter(s.cfg.SubscribeRate, burstOf(2*s.cfg.SubscribeRate))
	if g.claims != nil {
		wc.hc.SetPermissions(g.claims.permissions())
	}
	return true
}

// release frees what the connection held in the quotas, counts its close
// and writes its access log line. Called once, by finish.
func (wc *wsConn) release() {
	s := wc.srv
	g := &wc.guard
	if g.sess != nil {
		s.releaseSession(g.sessID, g.sess)
		g.sess = nil
	}
	if g.addr != "" && g.addrHanded {
		s.releaseAddr(g.addr)
		g.addr = ""
	}
	code := g.endStatus
	if closed, c := wc.hc.Closed(); closed && c != 0 {
		code = int(c) // the server's decision
	}
	if code <= 0 {
		code = 1006 // no close frame
	}
	s.metrics.countClose(code)
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "websocket closed",
		slog.String("client_id", wc.hc.ID()),
		slog.String("name", wc.hc.Name()),
		slog.String("session", wc.hc.SessionID()),
		slog.String("remote", wc.hc.RemoteAddr()),
		slog.Duration("duration", time.Since(wc.hc.ConnectedAt())),
		slog.Int("code", code))
}

// compressionMode is the permessage-deflate mode offered to clients.
func (s *Server) compressionMode() websocket.CompressionMode {
	if s.cfg.Compression {
		return websocket.CompressionNoContextTakeover
	}
	return websocket.CompressionDisabled
}
