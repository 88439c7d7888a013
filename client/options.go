package client

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Options configure a Client. Name is required; every other field has a
// default, stated in its comment, that its zero value selects.
type Options struct {
	// Name identifies the client; the server stamps it on every message the
	// client publishes as publisher_name. Required: 1–64 characters from
	// A-Z a-z 0-9 _ . - @ :.
	Name string
	// SessionID is the isolation scope the client joins. Default
	// "session-" + Name.
	SessionID string
	// URLs are more servers of the same deployment (the nodes of a
	// cluster) for failover: the client's servers are Dial's url, when not
	// empty, followed by URLs, each validated and normalized like Dial's
	// url, duplicates dropped. Dial tries them in order; a lost connection
	// is replaced by one to the next URL in rotation (see "Failover" in the
	// package documentation; shuffle the list to spread clients). Default
	// none: Dial's url only.
	URLs []string
	// Token is sent in hello for servers that require authentication.
	// Default none.
	Token string
	// TokenFunc, when set, supplies the token instead of Token: it is
	// called before every connection attempt (so a reconnect presents a
	// fresh token), and again before the current token expires (from its
	// JWT exp claim: when a quarter of its life remains, at least 5 s
	// before, at most half way), whose result is sent as a refresh object
	// on the open connection. A refresh that fails is reported to OnError
	// and retried; if the token expires anyway, the server closes with 4401
	// and the client reconnects with a new token (with TokenFunc, 4401 after
	// welcome is not terminal; a fresh token refused at hello is). It runs
	// on the client's own goroutines, outside its locks, bounded by
	// ConnectTimeout (before a connection) or CallTimeout (a refresh); its
	// errors wrap ErrToken. Default nil.
	TokenFunc func(ctx context.Context) (string, error)
	// TLSConfig configures TLS for wss:// URLs, for example RootCAs to
	// trust a private certificate authority. Default nil: the system's
	// roots. Native only: in browsers it is an empty struct, and the
	// browser's own TLS settings apply.
	TLSConfig *TLSConfig

	// Header holds extra HTTP headers for the WebSocket handshake, for
	// example Authorization for a proxy. It accepts an http.Header value.
	// Native only: browsers cannot set handshake headers, and the js/wasm
	// build ignores it.
	Header map[string][]string
	// Compression negotiates permessage-deflate (without context takeover).
	// Default off. Native only: browsers negotiate compression themselves.
	Compression bool
	// ConnectTimeout bounds each connection attempt: the WebSocket handshake
	// and hello → welcome. Default 10s.
	ConnectTimeout time.Duration
	// WriteTimeout bounds writing one frame. A write that takes longer drops
	// the connection (and the client reconnects). Default 10s. Browsers
	// never block on writes, so it has no effect there.
	WriteTimeout time.Duration
	// ReadLimit is the largest frame accepted from the server. Default
	// 1 MiB (protocol.ClientMaxFrameBytes); never less than the server's
	// max_frame_bytes plus 64 KiB, so that any message a peer may publish
	// fits.
	ReadLimit int64

	// Echo, when set, asks the server whether to deliver the client's own
	// publishes back to it when it is subscribed to their topic. Default:
	// the server's (true).
	Echo *bool

	// DisableReconnect makes any lost connection final. Default: the client
	// reconnects automatically (see the package documentation).
	DisableReconnect bool
	// MinBackoff is the base of the exponential backoff between reconnect
	// attempts. Default 100ms.
	MinBackoff time.Duration
	// MaxBackoff caps the backoff between reconnect attempts. Default 10s.
	MaxBackoff time.Duration
	// DisableJitter turns off the full jitter that spreads reconnecting
	// clients: attempt n waits a random time in [0, min(MaxBackoff,
	// MinBackoff·2ⁿ)] by default, exactly that bound with DisableJitter.
	// (With several URLs, n counts rounds over the URLs.)
	DisableJitter bool
	// RateLimitBackoff is added to the backoff after the server closed the
	// connection with 4429 (persistent rate limiting) or refused it with
	// HTTP 429. Default 30s.
	RateLimitBackoff time.Duration
	// MaxReconnectAttempts is the number of consecutive failed attempts
	// after which the client gives up and closes with ErrReconnectFailed.
	// With several URLs it counts rounds, each of which tries every URL
	// once. Default 0: try forever.
	MaxReconnectAttempts int

	// Outage decides what publishing does while the client is between
	// connections. Default OutageBuffer.
	Outage OutagePolicy
	// MaxBufferedMessages bounds the objects queued for sending (while
	// connected, and during an outage with OutageBuffer). Default 4096.
	MaxBufferedMessages int
	// MaxBufferedBytes bounds the bytes queued for sending. Default 4 MiB.
	MaxBufferedBytes int

	// CallTimeout bounds acknowledged calls (Subscribe, Publish, Reply,
	// Send, Ping) whose context has no deadline. Default 10s.
	CallTimeout time.Duration
	// RequestTimeout is the timeout of a Request whose context has no
	// deadline; it is sent to the server as timeout_ms. Default 5s, at most
	// 60s.
	RequestTimeout time.Duration

	// DispatchQueueSize bounds the messages waiting for the handler
	// goroutine. When it is full, further messages are dropped and
	// ErrSlowConsumer is reported to OnError. Default 4096.
	DispatchQueueSize int

	// OnState is called on every change of connection state, in order, on
	// the handler goroutine. Default none.
	OnState func(State)
	// OnError receives asynchronous errors: a server error for an object
	// sent without an id (PublishAsync, Respond), a failed resubscribe,
	// ErrSlowConsumer, why a connection was lost. Called on the handler
	// goroutine. Default none (errors are logged at debug level).
	OnError func(error)
	// DefaultHandler receives messages that match no handler: direct sends,
	// broadcasts and operator messages on topics without a handler. Called
	// on the handler goroutine. Default none (such messages are dropped).
	DefaultHandler func(*Message)

	// E2E enables end-to-end encryption of payloads for this client's
	// session: they are sealed before publishing and opened before any
	// handler runs (see the package documentation). Default nil: payloads
	// travel as they are, and sealed ones from others are delivered
	// untouched.
	E2E *E2E

	// Logger receives the client's diagnostics, for example a
	// *slog.Logger. Default nil: discarded.
	Logger Logger
}

// OutagePolicy decides what publishing does while the client is between
// connections.
type OutagePolicy int

const (
	// OutageBuffer queues publishes, requests, replies, sends and pings
	// made during an outage, up to MaxBufferedMessages and
	// MaxBufferedBytes, and sends them in order after the client has
	// reconnected and resubscribed. Beyond the bound, calls fail with
	// ErrBufferFull. Acknowledged calls keep waiting for their answer until
	// their context ends.
	OutageBuffer OutagePolicy = iota
	// OutageFail makes calls fail at once with ErrNotConnected during an
	// outage, and drops what was queued but unsent when the connection
	// was lost (acknowledged calls among them fail with ErrConnectionLost).
	OutageFail
)

func (p OutagePolicy) String() string {
	switch p {
	case OutageBuffer:
		return "buffer"
	case OutageFail:
		return "fail"
	}
	return fmt.Sprintf("OutagePolicy(%d)", int(p))
}

// State is the client's connection state.
type State int

const (
	// StateConnecting: Dial is establishing the first connection.
	StateConnecting State = iota
	// StateConnected: hello was answered with welcome; subscriptions are
	// being (re)established.
	StateConnected
	// StateReconnecting: the connection was lost and the client is trying
	// to get a new one, with backoff.
	StateReconnecting
	// StateClosed: final. Close was called, the server closed with a
	// terminal code, or reconnecting gave up.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Defaults of Options.
const (
	DefaultConnectTimeout      = 10 * time.Second
	DefaultWriteTimeout        = 10 * time.Second
	DefaultMinBackoff          = 100 * time.Millisecond
	DefaultMaxBackoff          = 10 * time.Second
	DefaultRateLimitBackoff    = 30 * time.Second
	DefaultMaxBufferedMessages = 4096
	DefaultMaxBufferedBytes    = 4 << 20
	DefaultCallTimeout         = 10 * time.Second
	DefaultDispatchQueueSize   = 4096
)

// withDefaults validates o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if err := protocol.ValidateName(o.Name); err != nil {
		return o, err
	}
	if o.SessionID == "" {
		o.SessionID = protocol.DefaultSessionID(o.Name)
	}
	if err := protocol.ValidateSessionID(o.SessionID); err != nil {
		return o, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ConnectTimeout, DefaultConnectTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.MinBackoff, DefaultMinBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	def(&o.RateLimitBackoff, DefaultRateLimitBackoff)
	def(&o.CallTimeout, DefaultCallTimeout)
	def(&o.RequestTimeout, protocol.DefaultRequestTimeout)
	o.RequestTimeout = min(o.RequestTimeout, protocol.MaxRequestTimeout)
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.ReadLimit <= 0 {
		o.ReadLimit = protocol.ClientMaxFrameBytes
	}
	if o.MaxBufferedMessages <= 0 {
		o.MaxBufferedMessages = DefaultMaxBufferedMessages
	}
	if o.MaxBufferedBytes <= 0 {
		o.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if o.DispatchQueueSize <= 0 {
		o.DispatchQueueSize = DefaultDispatchQueueSize
	}
	if noLogger(o.Logger) {
		o.Logger = nopLogger{}
	}
	return o, nil
}

// normalizeURL accepts ws, wss, http and https URLs (the last two as ws and
// wss) and adds the endpoint path /ws when the URL has none. It is written
// by hand rather than with net/url, which costs the js/wasm binary about
// 30 KB brotli-compressed: it checks the scheme, that there is a host with
// an optional numeric port (IPv6 in brackets), and that nothing is a space
// or a control character; the rest is passed on as it is, for the
// WebSocket implementation to parse.
func normalizeURL(raw string) (string, error) {
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b <= ' ' || b == 0x7f {
			return "", fmt.Errorf("%w: space or control character: %q", ErrInvalidURL, raw)
		}
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	switch strings.ToLower(scheme) {
	case "ws", "http":
		scheme = "ws"
	case "wss", "https":
		scheme = "wss"
	default:
		ok = false
	}
	if !ok {
		return "", fmt.Errorf("%w: scheme must be ws or wss: %q", ErrInvalidURL, raw)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	hostport := authority[strings.LastIndexByte(authority, '@')+1:] // without user info
	if !validHostPort(hostport) {
		return "", fmt.Errorf("%w: no valid host: %q", ErrInvalidURL, raw)
	}
	if !strings.HasPrefix(tail, "/") {
		tail = "/ws" + tail
	}
	return scheme + "://" + authority + tail, nil
}

// validHostPort checks host[:port]: a non-empty host (a bracketed IPv6
// address, or a name or IPv4 address without URL delimiters) and an
// optional port of digits.
func validHostPort(hp string) bool {
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		i := strings.IndexByte(hp, ']')
		if i < 0 {
			return false
		}
		host, port = hp[1:i], hp[i+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i:]
	}
	if host == "" || strings.ContainsAny(host, "[]<>\"^`{|}%") && !strings.HasPrefix(hp, "[") {
		return false
	}
	for _, c := range strings.TrimPrefix(port, ":") {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
