package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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

	// statsEvery is the period of the event stream's stats (tests shorten
	// it). Default 1 s.
	statsEvery time.Duration
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
