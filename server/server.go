package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
	"github.com/switchboardhq/switchboard/server/internal/natsengine"
)

// Types of the operator API (the admin HTTP API returns them as JSON).
type (
	ClientInfo  = hub.ClientInfo
	SessionInfo = hub.SessionInfo
	TopicInfo   = hub.TopicInfo
)

// Errors of the operator API.
var (
	// ErrNotFound: no such connected client.
	ErrNotFound = hub.ErrNotFound
	// ErrClosed: the server is shutting down or closed.
	ErrClosed = hub.ErrClosed
	// ErrPayload: a payload is not one JSON value.
	ErrPayload = hub.ErrPayload
)

// Server is the Switchboard server: the WebSocket endpoint, the admin API,
// health endpoints and the dashboard, over an in-memory routing hub.
type Server struct {
	cfg       Config
	log       *slog.Logger
	hub       *hub.Hub
	handler   *echo.Echo
	adminHash [sha256.Size]byte
	tokenGen  bool // AdminToken was generated

	draining  atomic.Bool   // shutting down: /readyz fails, /ws refuses
	quit      chan struct{} // closed when shutting down begins: event streams end
	assets    *assetIndex   // nil without Config.Assets
	clock     atomic.Int64  // coarse time (unix ns), advanced by the sweeper
	tick      time.Duration
	tasks     tracker
	stop      chan struct{} // ends the sweeper
	closeOnce sync.Once

	connsMu sync.Mutex
	conns   map[*wsConn]struct{} // every accepted WebSocket until its reader ends
	emptied chan struct{}        // while draining: closed when conns becomes empty

	auth    *authenticator // nil: open development mode (auth.go)
	quotas  quotas         // ratelimit.go
	metrics *serverMetrics // metrics.go
	certs   *certReloader  // nil without TLS (tls.go)

	hist   *historyStore      // history.go
	engine *natsengine.Engine // nil: a single node (cluster.go)

	started    time.Time              // set by New (cluster_admin.go)
	listenAddr atomic.Pointer[string] // set by Run
}

// New returns a Server. It starts the server's housekeeping goroutine
// (heartbeats, timeouts): call Close (or Run) to stop it.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	certs, err := loadCerts(cfg) // tls.go; first, so that nothing is open on error
	if err != nil {
		return nil, err
	}
	hist, err := openHistory(cfg) // history.go
	if err != nil {
		return nil, err
	}
	engine, err := startCluster(&cfg) // cluster.go
	if err != nil {
		hist.close()
		return nil, err
	}
	var eng hub.Engine
	if engine != nil {
		eng = engine
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		conns: make(map[*wsConn]struct{}),
		stop:  make(chan struct{}),
		quit:  make(chan struct{}),
		hub: hub.New(hub.Options{
			MaxSubscriptions: cfg.MaxSubscriptions,
			QueueBytes:       cfg.QueueBytes,
			Store:            hist.store,
			History:          cfg.History,
			HistoryBytes:     cfg.HistoryBytes,
			Engine:           eng,
		}),
		hist:    hist,
		engine:  engine,
		started: time.Now(),
	}
	if err := s.hub.Load(); err != nil {
		s.closeEngine()
		hist.close()
		return nil, fmt.Errorf("server: restore history: %w", err)
	}
	if s.cfg.AdminToken == "" {
		var b [24]byte
		rand.Read(b[:])
		s.cfg.AdminToken = base64.RawURLEncoding.EncodeToString(b[:])
		s.tokenGen = true
	}
	if cfg.Assets != nil {
		if s.assets, err = indexAssets(cfg.Assets); err != nil {
			s.closeEngine()
			hist.close()
			return nil, err
		}
	}
	s.adminHash = sha256.Sum256([]byte(s.cfg.AdminToken))
	s.auth = newAuthenticator(&s.cfg)
	s.metrics = newServerMetrics(s)
	s.certs = certs
	s.tick = min(cfg.HelloTimeout, cfg.Heartbeat, cfg.WriteTimeout) / 4
	s.tick = max(10*time.Millisecond, min(s.tick, time.Second))
	s.clock.Store(time.Now().UnixNano())
	s.handler = s.newEcho()
	if err := s.startClusterAdmin(); err != nil {
		s.closeEngine()
		hist.close()
		return nil, fmt.Errorf("server: cluster: %w", err)
	}
	s.tasks.Go(s.sweepLoop)
	if s.certs != nil {
		s.tasks.Go(s.watchCerts)
	}
	return s, nil
}

// Handler returns the HTTP handler serving every route (see routes.go), for
// mounting in a program's own server. Run serves it itself.
func (s *Server) Handler() http.Handler { return s.handler }

// AdminToken returns the admin API token (the configured or generated one).
func (s *Server) AdminToken() string { return s.cfg.AdminToken }

// Run serves on ln (nil: listen on Config.Addr) until ctx is done, then shuts
// down gracefully: /readyz starts failing, new WebSocket upgrades and event
// streams are refused, open event streams end, every WebSocket client is
// closed with 4000 ("server shutting down"), in-flight HTTP requests
// finish (within Config.ShutdownTimeout), and every goroutine of the server
// ends. The Server is closed afterwards. It returns nil after a shutdown
// caused by ctx.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
			s.Close()
			return fmt.Errorf("server: listen: %w", err)
		}
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout, // slowloris
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          httpErrorLog(s),
		MaxHeaderBytes:    64 << 10,
	}
	if s.certs != nil {
		hs.TLSConfig = s.TLSConfig()
		var p http.Protocols
		p.SetHTTP1(true) // WebSocket upgrades need HTTP/1.1
		hs.Protocols = &p
		ln = tls.NewListener(ln, hs.TLSConfig)
		if s.cfg.TLSRedirectAddr != "" {
			stop, err := s.serveRedirect(ln.Addr())
			if err != nil {
				ln.Close()
				s.Close()
				return err
			}
			defer stop()
		}
	}
	s.warnOpen()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }() // waited for below
	addr := ln.Addr().String()
	s.listenAddr.Store(&addr)
	s.log.Info("switchboard ready", "addr", addr, "dashboard", s.dashboardURL(ln.Addr()))
	if s.engine != nil {
		s.log.Info("cluster node over NATS", "embedded_nats", s.NATSURL(), "epoch", s.engine.Epoch())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served: // the listener failed
	}
	s.log.Info("switchboard shutting down")
	s.drain(s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		s.log.Warn("in-flight HTTP requests cut short", "err", err)
		hs.Close()
	}
	if serveErr == nil {
		if serveErr = <-served; errors.Is(serveErr, http.ErrServerClosed) {
			serveErr = nil
		}
	}
	s.Close()
	if serveErr != nil {
		return fmt.Errorf("server: serve: %w", serveErr)
	}
	s.log.Info("switchboard stopped")
	return nil
}

// dashboardURL is where an operator opens the dashboard; it carries the
// admin token only when the server generated it (the operator has no other
// way to learn it).
func (s *Server) dashboardURL(addr net.Addr) string {
	host, port := "localhost", ""
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
		if !ta.IP.IsUnspecified() && ta.IP != nil {
			host = ta.IP.String()
		}
	} else if h, p, err := net.SplitHostPort(addr.String()); err == nil {
		port = p
		if h != "" {
			host = h
		}
	}
	scheme := "http://"
	if s.certs != nil {
		scheme = "https://"
	}
	u := scheme + net.JoinHostPort(host, port) + "/"
	if s.tokenGen {
		u += "?token=" + s.cfg.AdminToken
	}
	return u
}

// drain marks the server as shutting down, ends the live event streams, and
// closes every WebSocket client with 4000, waiting up to timeout for them to
// go.
func (s *Server) drain(timeout time.Duration) {
	s.connsMu.Lock()
	s.draining.Store(true)
	conns := make([]*wsConn, 0, len(s.conns))
	for wc := range s.conns {
		conns = append(conns, wc)
	}
	if s.emptied == nil {
		close(s.quit) // first drain
		s.emptied = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.emptied)
		}
	}
	emptied := s.emptied
	s.connsMu.Unlock()
	for _, wc := range conns {
		wc.hc.Close(protocol.CloseShutdown, "server shutting down")
	}
	t := time.NewTimer(timeout)
	select {
	case <-emptied:
	case <-t.C:
	}
	t.Stop()
	// Whoever is still there (a client not answering the close handshake,
	// a write stuck on a full socket) loses its TCP connection.
	s.connsMu.Lock()
	conns = conns[:0]
	for wc := range s.conns {
		conns = append(conns, wc)
	}
	s.connsMu.Unlock()
	if len(conns) > 0 {
		s.log.Warn("clients did not close in time: dropping their connections", "count", len(conns))
	}
	for _, wc := range conns {
		s.tasks.Go(func() { wc.ws.CloseNow() })
	}
}

// Close ends the live event streams, closes every WebSocket client with 4000
// and stops the server's goroutines, waiting for them. It does not stop an HTTP server serving
// Handler: Run does that. Safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.drain(s.cfg.ShutdownTimeout)
		close(s.stop)
		s.tasks.Stop()
		s.hub.Close()
		s.closeEngine()
		if err := s.hist.close(); err != nil {
			s.log.Error("closing the history store", "err", err)
		}
	})
	return nil
}

func (s *Server) connCount() int {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	return len(s.conns)
}

// addConn registers an accepted connection; false when shutting down.
func (s *Server) addConn(wc *wsConn) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.conns[wc] = struct{}{}
	return true
}

func (s *Server) removeConn(wc *wsConn) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if _, ok := s.conns[wc]; !ok {
		return
	}
	delete(s.conns, wc)
	if len(s.conns) == 0 && s.emptied != nil {
		close(s.emptied)
	}
}

// now returns the coarse clock (at most one sweeper tick behind), cheap
// enough to read on every frame.
func (s *Server) now() int64 { return s.clock.Load() }

// Clients lists the connected clients of sessionID, or of every session when
// it is empty.
func (s *Server) Clients(sessionID string) []ClientInfo { return s.hub.Clients(sessionID) }

// Sessions lists the sessions with their clients and topics.
func (s *Server) Sessions() []SessionInfo { return s.hub.Sessions() }

// PublishToSession publishes payload (one JSON value) on topic into a
// session as the server, under publisherName (default "$server"). It returns
// the message's seq and how many connections it reached.
func (s *Server) PublishToSession(sessionID, topic string, payload []byte, publisherName string) (seq uint64, delivered int, err error) {
	return s.hub.PublishToSession(sessionID, topic, payload, publisherName)
}

// SendToClient delivers payload on topic to one client, whether or not it
// subscribes to topic, as "$server". ErrNotFound when it is not connected.
func (s *Server) SendToClient(clientID, topic string, payload []byte) error {
	return s.hub.SendToClient(clientID, topic, payload)
}

// Broadcast delivers payload on topic to every client of every session and
// returns how many it reached.
func (s *Server) Broadcast(topic string, payload []byte) (int, error) {
	return s.hub.Broadcast(topic, payload)
}

// Disconnect closes a client's connection with code (0: 4003, disconnected
// by an operator). ErrNotFound when it is not connected.
func (s *Server) Disconnect(clientID string, code protocol.CloseCode) error {
	return s.hub.Disconnect(clientID, code)
}

// tracker owns the server's goroutines: each starts through Go, and Stop
// waits for all of them. Go refuses to start anything once Stop has begun.
type tracker struct {
	mu      sync.RWMutex
	stopped bool
	wg      sync.WaitGroup
}

func (t *tracker) Go(f func()) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.stopped {
		return false
	}
	t.wg.Go(f)
	return true
}

func (t *tracker) Stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
	t.wg.Wait()
}
