package server

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// Config configures a Server. Zero values mean the documented default.
type Config struct {
	// Addr is where Run listens when it is given no listener. Default ":8080".
	Addr string

	// AdminToken guards the admin API (/api/v1, "Authorization: Bearer …").
	// If empty, New generates a random one; Run logs the dashboard URL with
	// it, and AdminToken returns it.
	AdminToken string

	// AllowedOrigins lists the host patterns (path.Match syntax, matched
	// case-insensitively against the Origin's host:port, or against
	// scheme://host:port when the pattern holds "://") whose browser pages may
	// open WebSockets. The server's own host is always allowed, and so are
	// requests without an Origin (native clients). Any other Origin gets HTTP
	// 403 before the upgrade. Default: none (same origin only). Never use "*".
	AllowedOrigins []string

	// MaxFrameBytes is the largest frame a client may send; a larger one
	// closes the connection with 1009. Default 64 KiB.
	MaxFrameBytes int64

	// MaxSubscriptions per connection; more get too_large. Default 100.
	MaxSubscriptions int

	// HelloTimeout is how long a connection may stay without hello; then it
	// is closed with 4002. Default 10 s.
	HelloTimeout time.Duration

	// Heartbeat is the ping interval (sent to clients as heartbeat_ms); a
	// connection silent for twice as long is closed with 4002. Default 25 s.
	Heartbeat time.Duration

	// QueueBytes bounds each connection's outgoing queue; a client that falls
	// further behind is closed with 4001 (slow consumer). Default 4 MiB.
	QueueBytes int

	// WriteTimeout: a write to a client stuck that long drops its TCP
	// connection. Default 10 s.
	WriteTimeout time.Duration

	// MaxViolations is how many protocol violations (errors bad_request,
	// unsupported, not_ready, forbidden, too_large) a connection may cause
	// within 10 s; one more closes it with 4400. Default 100.
	MaxViolations int

	// ShutdownTimeout bounds how long Run waits, once its context is done,
	// for WebSocket clients to close and in-flight HTTP requests to finish.
	// Default 10 s.
	ShutdownTimeout time.Duration

	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger

	// Version is reported in welcome as "switchboard/<Version>". Default "dev".
	Version string

	// Assets holds the dashboard and the browser client, served at /
	// (index.html for directories). Files with a pre-compressed sibling
	// (name.br, name.gz) are served compressed to clients that accept it.
	// The files are read once by New (for their ETags) and must not change
	// afterwards. Pages of allowed origins (AllowedOrigins) may load them
	// cross-origin (CORS). Default nil: a placeholder page saying the
	// dashboard is not built, with the WebSocket URL.
	Assets fs.FS

	// EventRate is how many message events per second each live event
	// stream (GET /api/v1/events) receives at most; the others are counted
	// and reported in "sampled" events. Default 200.
	EventRate int

	// Security and operations (auth.go, ratelimit.go, tls.go, metrics.go;
	// docs/operations.md).

	// AuthSecret enables authentication with HS256-signed tokens (JWT) under
	// this shared secret, at least 32 bytes. With neither AuthSecret nor
	// AuthPublicKey the server runs in open development mode: tokens are
	// ignored and any client may join any session (Run says so loudly).
	AuthSecret []byte
	// AuthPublicKey enables authentication with EdDSA (Ed25519) tokens
	// signed by the matching private key. Both may be set: a token's alg
	// picks the key, and no key serves another algorithm.
	AuthPublicKey ed25519.PublicKey
	// AuthIssuer and AuthAudience, when set, must match the tokens' iss and
	// aud claims. Default: not checked.
	AuthIssuer, AuthAudience string

	// PublishRate is each connection's sustained rate of publish, request,
	// reply and send objects per second; PublishBurst how many may come at
	// once. Over it: error rate_limited. Defaults 10,000/s and a burst of
	// one second's worth; negative: no limit.
	PublishRate  float64
	PublishBurst int
	// SessionPublishRate bounds the same objects for all the connections of
	// one session together (burst: one second's worth). Default 100,000/s;
	// negative: no limit.
	SessionPublishRate float64
	// SubscribeRate is each connection's rate of subscribe, unsubscribe,
	// presence and refresh objects per second, with a burst of twice that
	// (a reconnecting client resubscribes at once). Default 100/s;
	// negative: no limit.
	SubscribeRate float64
	// MaxRateLimited is how many rate_limited errors a connection may
	// collect within 10 s; one more closes it with 4429. Default 1000.
	MaxRateLimited int
	// MaxConnsPerSession bounds the connections of one session; a hello
	// beyond it is closed with 4429. Default 0: no limit.
	MaxConnsPerSession int
	// MaxConnsPerAddr bounds the WebSocket connections from one remote IP
	// address; beyond it the upgrade is refused with HTTP 429. Default 0: no
	// limit (clients behind a proxy or NAT share an address).
	MaxConnsPerAddr int

	// ReadHeaderTimeout bounds reading an HTTP request's headers (a
	// WebSocket upgrade included), against slowloris. Default 5 s.
	ReadHeaderTimeout time.Duration

	// TLSCertFile and TLSKeyFile make Run serve HTTPS (and wss://) with
	// this PEM certificate chain and key. They are read again on
	// Server.ReloadTLS (serve calls it on SIGHUP) and when their
	// modification time changes (checked every TLSReloadEvery, default
	// 10 s); a reload that fails keeps the previous certificate.
	TLSCertFile, TLSKeyFile string
	TLSReloadEvery          time.Duration
	// TLSRedirectAddr, with TLS, is where Run also listens for plain HTTP
	// and redirects every request to https (308). Default: none.
	TLSRedirectAddr string

	// Compression offers permessage-deflate (without context takeover) to
	// clients that ask for it; frames of at least CompressionThreshold bytes
	// (default 512) are compressed. Default off: it costs CPU for every
	// frame (docs/operations.md has measurements).
	Compression          bool
	CompressionThreshold int

	// PublicMetrics serves /metrics without the admin token. Default: the
	// admin bearer token is required.
	PublicMetrics bool
	// PrivateHealth requires the admin token on /healthz and /readyz.
	// Default: they are public (they say only "ok" or "shutting down").
	PrivateHealth bool

	// Delivery (history.go; docs/delivery.md).

	// History sets the history limits per topic pattern (the first
	// matching rule wins). Default for every topic: the last 100 messages,
	// at most 5 minutes old; a rule's MaxMessages < 0 keeps no history for
	// its topics, MaxAge < 0 no age limit.
	History []HistoryRule
	// HistoryBytes bounds the memory of all histories together. Default
	// 256 MiB.
	HistoryBytes int64
	// DataDir, when set, keeps the histories (with their epochs and seqs)
	// in DataDir/history.db, so that they survive a restart. Default:
	// in memory only.
	DataDir string

	// Cluster, when set, makes the server a node of a cluster over NATS
	// (cluster.go, docs/cluster.md). With it, DataDir keeps the embedded
	// NATS node's JetStream store, and History and HistoryBytes do not
	// apply (JetStream's limits do).
	Cluster *ClusterConfig

	// statsEvery is the period of the event stream's stats (tests shorten
	// it). Default 1 s.
	statsEvery time.Duration
	// redirectLn, when set, is the listener for TLSRedirectAddr (tests).
	redirectLn net.Listener
}

// Defaults.
const (
	DefaultAddr            = ":8080"
	DefaultQueueBytes      = hub.DefaultQueueBytes
	DefaultWriteTimeout    = 10 * time.Second
	DefaultMaxViolations   = 100
	DefaultShutdownTimeout = 10 * time.Second
	DefaultVersion         = "dev"
	DefaultEventRate       = hub.DefaultMonitorRate

	violationWindow = 10 * time.Second
	apiBodyLimit    = "1M" // admin API request bodies
)

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("server: invalid config")

func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = protocol.DefaultMaxFrameBytes
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = protocol.DefaultMaxSubscriptions
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = protocol.DefaultHelloTimeout
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = protocol.DefaultHeartbeat
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxViolations <= 0 {
		c.MaxViolations = DefaultMaxViolations
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.EventRate <= 0 {
		c.EventRate = DefaultEventRate
	}
	if c.statsEvery <= 0 {
		c.statsEvery = time.Second
	}
	if err := c.securityDefaults(); err != nil {
		return c, err
	}
	if err := c.historyDefaults(); err != nil {
		return c, err
	}
	for _, p := range c.AllowedOrigins {
		if p == "" || p == "*" || strings.TrimSpace(p) != p {
			return c, fmt.Errorf("%w: allowed origin %q", ErrConfig, p)
		}
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			return c, fmt.Errorf("%w: allowed origin %q: %v", ErrConfig, p, err)
		}
	}
	return c, nil
}
