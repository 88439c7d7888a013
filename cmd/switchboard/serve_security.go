package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/server"
)

// securityFlags are serve's flags for authentication, TLS, limits,
// compression and metrics (docs/operations.md lists them all).
type securityFlags struct {
	authSecret, authSecretFile, authPublicKey string
	authIssuer, authAudience                  string
	tlsCert, tlsKey, tlsRedirectAddr          string
	publicMetrics, privateHealth              bool
	compression                               bool
	compressionThreshold                      int
	publishRate, sessionPublishRate           float64
	subscribeRate                             float64
	publishBurst, maxRateLimited              int
	maxConnsPerSession, maxConnsPerAddr       int
	maxSubscriptions                          int
	readHeaderTimeout                         time.Duration
}

func (sf *securityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.authSecret, "auth-secret", "", "require tokens signed with HS256 under this shared secret (at least 32 bytes); prefer --auth-secret-file or the environment")
	fs.StringVar(&sf.authSecretFile, "auth-secret-file", "", "read the HS256 secret from this file (surrounding whitespace ignored)")
	fs.StringVar(&sf.authPublicKey, "auth-public-key", "", "require tokens signed with EdDSA: the Ed25519 public key's PEM file (switchboard token --gen-key writes one)")
	fs.StringVar(&sf.authIssuer, "auth-issuer", "", "with auth: tokens must carry this iss claim")
	fs.StringVar(&sf.authAudience, "auth-audience", "", "with auth: tokens must carry this aud claim")
	fs.StringVar(&sf.tlsCert, "tls-cert", "", "serve HTTPS and wss:// with this PEM certificate chain (reloaded on SIGHUP and when the file changes)")
	fs.StringVar(&sf.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	fs.StringVar(&sf.tlsRedirectAddr, "tls-redirect-addr", "", "with TLS: also listen here for plain HTTP and redirect it to HTTPS (e.g. :80)")
	fs.BoolVar(&sf.publicMetrics, "public-metrics", false, "serve /metrics without the admin token")
	fs.BoolVar(&sf.privateHealth, "private-health", false, "require the admin token on /healthz and /readyz")
	fs.BoolVar(&sf.compression, "compression", false, "offer permessage-deflate to clients that ask (costs CPU; see docs/operations.md)")
	fs.IntVar(&sf.compressionThreshold, "compression-threshold", server.DefaultCompressionThreshold, "with --compression: compress frames of at least this many bytes")
	fs.Float64Var(&sf.publishRate, "publish-rate", server.DefaultPublishRate, "publish, request, reply and send objects per second per connection (-1: no limit)")
	fs.IntVar(&sf.publishBurst, "publish-burst", 0, "publishes a connection may send at once above --publish-rate (default: one second's worth)")
	fs.Float64Var(&sf.sessionPublishRate, "session-publish-rate", server.DefaultSessionPublishRate, "publishes per second of all the connections of one session together (-1: no limit)")
	fs.Float64Var(&sf.subscribeRate, "subscribe-rate", server.DefaultSubscribeRate, "subscribe, unsubscribe, presence and refresh objects per second per connection, burst twice that (-1: no limit)")
	fs.IntVar(&sf.maxRateLimited, "max-rate-limited", server.DefaultMaxRateLimited, "rate_limited errors a connection may collect within 10 s before it is closed with 4429")
	fs.IntVar(&sf.maxConnsPerSession, "max-conns-per-session", 0, "connections per session; more are closed with 4429 (0: no limit)")
	fs.IntVar(&sf.maxConnsPerAddr, "max-conns-per-addr", 0, "WebSocket connections per remote IP address; more get HTTP 429 (0: no limit; proxies and NAT share addresses)")
	fs.IntVar(&sf.maxSubscriptions, "max-subscriptions", 100, "subscriptions per connection; more get too_large")
	fs.DurationVar(&sf.readHeaderTimeout, "read-header-timeout", server.DefaultReadHeaderTimeout, "time a client has to send an HTTP request's headers (against slowloris)")
}

// apply puts the flags into a server configuration.
func (sf *securityFlags) apply(cfg *server.Config) error {
	switch {
	case sf.authSecret != "" && sf.authSecretFile != "":
		return usageError{"--auth-secret and --auth-secret-file: give one"}
	case sf.authSecret != "":
		cfg.AuthSecret = []byte(sf.authSecret)
	case sf.authSecretFile != "":
		secret, err := readSecretFile(sf.authSecretFile)
		if err != nil {
			return err
		}
		cfg.AuthSecret = secret
	}
	if sf.authPublicKey != "" {
		key, err := readPublicKey(sf.authPublicKey)
		if err != nil {
			return err
		}
		cfg.AuthPublicKey = key
	}
	cfg.AuthIssuer, cfg.AuthAudience = sf.authIssuer, sf.authAudience
	cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSRedirectAddr = sf.tlsCert, sf.tlsKey, sf.tlsRedirectAddr
	cfg.PublicMetrics, cfg.PrivateHealth = sf.publicMetrics, sf.privateHealth
	cfg.Compression, cfg.CompressionThreshold = sf.compression, sf.compressionThreshold
	cfg.PublishRate, cfg.PublishBurst = sf.publishRate, sf.publishBurst
	cfg.SessionPublishRate, cfg.SubscribeRate = sf.sessionPublishRate, sf.subscribeRate
	cfg.MaxRateLimited = sf.maxRateLimited
	cfg.MaxConnsPerSession, cfg.MaxConnsPerAddr = sf.maxConnsPerSession, sf.maxConnsPerAddr
	cfg.MaxSubscriptions = sf.maxSubscriptions
	cfg.ReadHeaderTimeout = sf.readHeaderTimeout
	return nil
}

// readSecretFile reads a shared secret, without surrounding whitespace.
func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth secret: %w", err)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}

// readPublicKey reads an Ed25519 public key from a PEM file.
func readPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth public key: %w", err)
	}
	key, err := jwt.ParseEdPublicKeyFromPEM(b)
	if err != nil {
		return nil, fmt.Errorf("auth public key %s: %w", path, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("auth public key %s: not an Ed25519 key", path)
	}
	return pub, nil
}

// readPrivateKey reads an Ed25519 private key from a PEM file (PKCS #8).
func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	key, err := jwt.ParseEdPrivateKeyFromPEM(b)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("private key: not an Ed25519 key")
	}
	return priv, nil
}

// reloadOnHUP reloads the server's TLS certificate on each SIGHUP until ctx
// ends; the returned function stops it.
func reloadOnHUP(ctx context.Context, srv *server.Server) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				srv.ReloadTLS() // logs its outcome
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}

// tlsConfigWithCA trusts the system's roots and the certificates of a PEM
// file (a private CA, or a self-signed certificate) for wss://.
func tlsConfigWithCA(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-cert %s: no certificate found", path)
	}
	return &tls.Config{RootCAs: pool}, nil
}
