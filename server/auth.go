package server

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// TokenClaims are the claims of a Switchboard token (a JWT, HS256 or EdDSA;
// docs/operations.md and docs/protocol.md, "Authentication"):
//
//	{"sub":"alice","sid":["user-42","user-42-*"],"topics":{"pub":["chat.>"],"sub":["chat.>","$meta.>"]},"exp":1767225600}
//
// The claims:
//
//   - sub: the client name. A hello without a name takes it; a hello with
//     another name is closed with 4403. Absent: any name.
//   - sid: the session, or a list of sessions, each an exact id or a
//     path.Match pattern ("user-42-*"). A hello without a session_id takes
//     the only exact one; a hello for a session the token does not allow is
//     closed with 4403. Absent: only the client's default session
//     "session-<name>".
//   - topics.pub and topics.sub: the topic patterns the client may publish
//     (request, send) on and subscribe within. Absent or null: any topic;
//     an empty list: none. Outside them: error forbidden.
//   - service: a backend service (the messaging provider's component role):
//     it may subscribe with all_sessions and publish or reply into another
//     session. Nothing else reaches across sessions.
//   - exp (required), nbf, iat, iss, aud, jti: as in RFC 7519; iss and aud
//     are checked when Config.AuthIssuer or AuthAudience is set.
type TokenClaims struct {
	jwt.RegisteredClaims
	Sessions SessionList  `json:"sid,omitempty"`
	Topics   *TopicClaims `json:"topics,omitempty"`
	Service  bool         `json:"service,omitempty"`
}

// TopicClaims are a token's topic permissions: nil lists allow any topic,
// empty ones none.
type TopicClaims struct {
	Publish   []string `json:"pub"`
	Subscribe []string `json:"sub"`
}

// SessionList is the sid claim: one session (a JSON string) or several (an
// array), each exact or a path.Match pattern.
type SessionList []string

// UnmarshalJSON accepts a string or an array of strings.
func (l *SessionList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = SessionList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("sid must be a string or an array of strings")
	}
	*l = many
	return nil
}

// MarshalJSON writes one session as a string, several as an array.
func (l SessionList) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return json.Marshal(l[0])
	}
	return json.Marshal([]string(l))
}

// Validate checks the Switchboard claims; the parser calls it after the
// registered claims.
func (c *TokenClaims) Validate() error {
	for _, p := range c.Sessions {
		if p == "" {
			return errors.New("empty sid")
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("sid %q: %v", p, err)
		}
	}
	if c.Topics != nil {
		for _, list := range [][]string{c.Topics.Publish, c.Topics.Subscribe} {
			for _, p := range list {
				if _, err := protocol.ValidatePattern(p); err != nil && !errors.Is(err, protocol.ErrReservedTopic) {
					return fmt.Errorf("topic pattern %q: %v", p, err)
				}
			}
		}
	}
	return nil
}

// MintToken signs claims: key is the shared secret ([]byte, HS256) or an
// ed25519.PrivateKey (EdDSA). For development (switchboard token) and for
// backends that issue tokens to their users.
func MintToken(claims TokenClaims, key any) (string, error) {
	var m jwt.SigningMethod
	switch key.(type) {
	case []byte:
		m = jwt.SigningMethodHS256
	case ed25519.PrivateKey:
		m = jwt.SigningMethodEdDSA
	default:
		return "", fmt.Errorf("%w: token key must be []byte or ed25519.PrivateKey, not %T", ErrConfig, key)
	}
	return jwt.NewWithClaims(m, &claims).SignedString(key)
}

// MinSecretBytes is the shortest HS256 secret accepted: shorter ones can be
// brute-forced from one token.
const MinSecretBytes = 32

// Authentication failures: each closes a hello with 4401 (the reason says
// which) and answers a refresh with unauthorized.
var (
	errTokenRequired = errors.New("token required")
	errTokenTooLarge = errors.New("token too large")
	errTokenExpired  = errors.New("token expired")
	errTokenEarly    = errors.New("token not valid yet")
	errTokenInvalid  = errors.New("token invalid")
)

// Binding failures: they close a hello with 4403.
var (
	errWrongName    = errors.New("token is for another client name")
	errWrongSession = errors.New("session not allowed by the token")
	errWrongRole    = errors.New("token changes the service role")
)

// authenticator verifies tokens. Nil when authentication is off.
type authenticator struct {
	secret []byte
	pub    ed25519.PublicKey
	parser *jwt.Parser
}

func newAuthenticator(cfg *Config) *authenticator {
	if len(cfg.AuthSecret) == 0 && len(cfg.AuthPublicKey) == 0 {
		return nil
	}
	a := &authenticator{secret: cfg.AuthSecret, pub: cfg.AuthPublicKey}
	var methods []string
	if a.secret != nil {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if a.pub != nil {
		methods = append(methods, jwt.SigningMethodEdDSA.Alg())
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithExpirationRequired()}
	if cfg.AuthIssuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.AuthIssuer))
	}
	if cfg.AuthAudience != "" {
		opts = append(opts, jwt.WithAudience(cfg.AuthAudience))
	}
	a.parser = jwt.NewParser(opts...)
	return a
}

// key returns the verification key of a token's algorithm: the secret only
// for HS256, the public key only for EdDSA, so that neither can stand in for
// the other (algorithm confusion), and nothing for "none".
func (a *authenticator) key(t *jwt.Token) (any, error) {
	switch t.Method {
	case jwt.SigningMethodHS256:
		if a.secret != nil {
			return a.secret, nil
		}
	case jwt.SigningMethodEdDSA:
		if a.pub != nil {
			return a.pub, nil
		}
	}
	return nil, fmt.Errorf("algorithm %q not accepted", t.Method.Alg())
}

// verify checks a token and returns its claims, or one of the errToken
// errors (the cause, never the token, is what gets logged).
func (a *authenticator) verify(token string) (*TokenClaims, error) {
	if token == "" {
		return nil, errTokenRequired
	}
	if len(token) > protocol.MaxTokenBytes {
		return nil, errTokenTooLarge
	}
	var c TokenClaims
	if _, err := a.parser.ParseWithClaims(token, &c, a.key); err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, errTokenExpired
		case errors.Is(err, jwt.ErrTokenNotValidYet):
			return nil, errTokenEarly
		}
		return nil, fmt.Errorf("%w: %v", errTokenInvalid, err)
	}
	return &c, nil
}

// bind applies a token to a hello: it fills an empty name from sub and an
// empty session from sid, and checks that the token allows both.
func (c *TokenClaims) bind(name, session string) (string, string, error) {
	if c.Subject != "" {
		if name == "" {
			name = c.Subject
		} else if name != c.Subject {
			return name, session, errWrongName
		}
	}
	if session == "" {
		if len(c.Sessions) == 1 && !strings.ContainsAny(c.Sessions[0], `*?[\`) {
			session = c.Sessions[0]
		} else {
			session = protocol.DefaultSessionID(name)
		}
	}
	if !c.allowsSession(name, session) {
		return name, session, errWrongSession
	}
	return name, session, nil
}

func (c *TokenClaims) allowsSession(name, session string) bool {
	if len(c.Sessions) == 0 {
		return session == protocol.DefaultSessionID(name)
	}
	for _, p := range c.Sessions {
		if ok, _ := path.Match(p, session); ok {
			return true
		}
	}
	return false
}

// permissions turns the claims into the hub's plain data.
func (c *TokenClaims) permissions() *hub.Permissions {
	if c.Topics == nil && !c.Service {
		return nil
	}
	p := &hub.Permissions{Service: c.Service}
	if c.Topics != nil {
		p.Publish, p.Subscribe = c.Topics.Publish, c.Topics.Subscribe
	}
	return p
}

// expiry returns when the token expires (unix ns).
func (c *TokenClaims) expiry() int64 {
	if c.ExpiresAt == nil {
		return 0
	}
	return c.ExpiresAt.Time.UnixNano()
}

// AuthEnabled reports whether clients must present a valid token.
func (s *Server) AuthEnabled() bool { return s.auth != nil }

// warnOpen says loudly, at start, that authentication is off.
func (s *Server) warnOpen() {
	if s.auth != nil {
		return
	}
	s.log.Warn("AUTHENTICATION IS OFF: open development mode. Any client may join any session under any name; " +
		"tokens are ignored. Set --auth-secret(-file) or --auth-public-key for anything but local development " +
		"(docs/operations.md).")
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// reasonOf is the close reason or error message for an authentication
// failure: the sentinel's text, never the token nor the parser's details.
func reasonOf(err error) string {
	for _, e := range []error{errTokenRequired, errTokenTooLarge, errTokenExpired, errTokenEarly, errTokenInvalid,
		errWrongName, errWrongSession, errWrongRole} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return errTokenInvalid.Error()
}

// authenticate checks hello's token (or the query's, or the upgrade's
// Authorization header) when authentication is on: an invalid one closes
// the connection with 4401, one that does not allow the hello's name or
// session with 4403. It fills an empty name and session from the token.
func (wc *wsConn) authenticate(f *protocol.Frame) bool {
	s := wc.srv
	if s.auth == nil {
		return true
	}
	token := f.Token
	if token == "" {
		token = wc.guard.headerToken
	}
	claims, err := s.auth.verify(token)
	if err != nil {
		wc.refuse(protocol.CloseUnauthorized, refuseAuth, err)
		return false
	}
	name, session, err := claims.bind(f.Name, f.SessionID)
	if err != nil {
		wc.refuse(protocol.CloseForbidden, refuseForbid, err)
		return false
	}
	f.Name, f.SessionID = name, session
	wc.guard.claims = claims
	wc.guard.expires.Store(claims.expiry())
	return true
}

// refuse closes a connection whose hello failed authentication.
func (wc *wsConn) refuse(code protocol.CloseCode, metric string, err error) {
	s := wc.srv
	s.metrics.countRefused(metric)
	s.metrics.countError(protocol.CodeUnauthorized)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		// The error names the cause; the token itself is never logged.
		s.log.Debug("hello refused", "remote", wc.hc.RemoteAddr(), "code", int(code), "err", err)
	}
	wc.hc.Close(code, reasonOf(err))
}

// refresh serves a refresh object: a new token for the connection, which
// must be valid and name the same client name, session and role. The new
// token's expiry and permissions apply from now; subscriptions it does not
// allow are dropped. Without authentication it is acknowledged and ignored.
func (wc *wsConn) refresh(f *protocol.Frame) {
	id := validID(f.ID)
	if id == "" {
		wc.fail("", protocol.CodeBadRequest, "refresh needs an id")
		return
	}
	s := wc.srv
	g := &wc.guard
	if s.auth != nil {
		claims, err := s.auth.verify(f.Token)
		if err != nil {
			s.metrics.countError(protocol.CodeUnauthorized)
			wc.hc.Enqueue(protocol.AppendError(nil, id, protocol.CodeUnauthorized, reasonOf(err)))
			return
		}
		if _, _, err := claims.bind(wc.hc.Name(), wc.hc.SessionID()); err != nil {
			wc.fail(id, protocol.CodeForbidden, reasonOf(err))
			return
		}
		if g.claims != nil && claims.Service != g.claims.Service {
			wc.fail(id, protocol.CodeForbidden, errWrongRole.Error())
			return
		}
		if dropped := s.hub.UpdatePermissions(wc.hc, claims.permissions()); len(dropped) > 0 {
			s.log.Debug("token refresh dropped subscriptions", "client_id", wc.hc.ID(), "patterns", dropped)
		}
		g.claims = claims
		g.expires.Store(claims.expiry())
	}
	wc.hc.Enqueue(protocol.AppendAck(nil, &protocol.Ack{ID: id}))
}
