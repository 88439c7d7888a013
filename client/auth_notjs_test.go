//go:build !js

package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server"
)

var authSecret = []byte("0123456789abcdef0123456789abcdef")

// runServer runs a server with Run on a loopback port until the test ends.
func runServer(t *testing.T, cfg server.Config) (srv *server.Server, addr string, wrote *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wrote = new(atomic.Int64)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err = server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, &countingListener{Listener: ln, wrote: wrote}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return srv, ln.Addr().String(), wrote
}

// countingListener counts the bytes the server writes to its connections.
type countingListener struct {
	net.Listener
	wrote *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, wrote: l.wrote}, nil
}

type countingConn struct {
	net.Conn
	wrote *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.wrote.Add(int64(n))
	return n, err
}

// tokenFor mints a token for name in session, valid for ttl.
func tokenFor(t testing.TB, name, session string, ttl time.Duration) string {
	t.Helper()
	tok, err := server.MintToken(server.TokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: name, ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl))},
		Sessions:         server.SessionList{session},
	}, authSecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenFuncOnEveryConnection(t *testing.T) {
	srv, addr, _ := runServer(t, server.Config{AuthSecret: authSecret})
	var calls atomic.Int32
	opts := Options{
		MinBackoff: 10 * time.Millisecond,
		TokenFunc: func(ctx context.Context) (string, error) {
			calls.Add(1)
			return tokenFor(t, "alice", "room", time.Hour), nil
		},
	}
	c := dialIntegration(t, "ws://"+addr, "alice", "room", opts)
	first := c.ClientID()
	if err := srv.Disconnect(first, protocol.CloseKicked); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a new connection", func() bool { return c.State() == StateConnected && c.ClientID() != first })
	if n := calls.Load(); n != 2 {
		t.Fatalf("TokenFunc called %d times, want 2", n)
	}

	// Errors of TokenFunc fail Dial, wrapped.
	_, err := Dial(context.Background(), "ws://"+addr, Options{Name: "bob", TokenFunc: func(context.Context) (string, error) {
		return "", errors.New("auth service down")
	}})
	if !errors.Is(err, ErrToken) || !strings.Contains(err.Error(), "auth service down") {
		t.Fatalf("Dial: %v", err)
	}
	// Without a token the server refuses for good.
	_, err = Dial(context.Background(), "ws://"+addr, Options{Name: "bob"})
	if !errors.Is(err, &CloseError{Code: protocol.CloseUnauthorized}) {
		t.Fatalf("Dial without a token: %v", err)
	}
}

// Short-lived tokens are refreshed on the open connection: the client keeps
// its connection (and client id) past the first token's expiry.
func TestTokenRefresh(t *testing.T) {
	_, addr, _ := runServer(t, server.Config{AuthSecret: authSecret, HelloTimeout: time.Second})
	var calls atomic.Int32
	var rec recorder
	opts := Options{
		OnState: rec.state,
		OnError: rec.err,
		TokenFunc: func(ctx context.Context) (string, error) {
			calls.Add(1)
			return tokenFor(t, "alice", "room", 2*time.Second), nil
		},
	}
	c := dialIntegration(t, "ws://"+addr, "alice", "room", opts)
	id := c.ClientID()
	firstExp := time.Now().Add(2 * time.Second)
	ctx := itContext(t)
	var got collector
	if _, err := c.Subscribe(ctx, "t", got.add); err != nil {
		t.Fatal(err)
	}
	n := 0
	for time.Now().Before(firstExp.Add(1500 * time.Millisecond)) { // past the expiry and a sweep
		n++
		if _, err := c.Publish(ctx, "t", n); err != nil {
			t.Fatal(err)
		}
		got.wait(t, n)
	}
	if c.ClientID() != id || calls.Load() < 2 {
		t.Fatalf("client id %s → %s, TokenFunc called %d times", id, c.ClientID(), calls.Load())
	}
	if s := rec.getStates(); len(s) != 2 { // connecting, connected
		t.Fatalf("states %v", s)
	}
}

// When a refresh fails and the token expires, the server closes with 4401
// and the client reconnects with a fresh token from TokenFunc.
func TestTokenExpiredReconnects(t *testing.T) {
	_, addr, _ := runServer(t, server.Config{AuthSecret: authSecret, HelloTimeout: time.Second})
	var broken atomic.Bool
	var rec recorder
	opts := Options{
		MinBackoff: 10 * time.Millisecond,
		OnState: func(s State) {
			rec.state(s)
			if s == StateReconnecting {
				broken.Store(false) // a new connection gets a good token
			}
		},
		OnError: rec.err,
		TokenFunc: func(ctx context.Context) (string, error) {
			if broken.Load() {
				return "not-a-token", nil // the refresh is refused
			}
			return tokenFor(t, "alice", "room", 2*time.Second), nil
		},
	}
	c := dialIntegration(t, "ws://"+addr, "alice", "room", opts)
	broken.Store(true)
	first := c.ClientID()
	waitFor(t, 10*time.Second, "a reconnect after the expiry", func() bool {
		return c.State() == StateConnected && c.ClientID() != first
	})
	if !rec.hasErr(&protocol.Error{Code: protocol.CodeUnauthorized}) {
		t.Fatalf("the refused refresh was not reported: %v", rec.errs)
	}
	if !rec.hasErr(&CloseError{Code: protocol.CloseUnauthorized}) {
		t.Fatalf("the 4401 was not reported: %v", rec.errs)
	}
}

// wss:// with a private CA through Options.TLSConfig.
func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	pool, certFile, keyFile := writeTestCert(t, dir)
	_, addr, _ := runServer(t, server.Config{TLSCertFile: certFile, TLSKeyFile: keyFile})
	url := "wss://" + addr + "/ws"
	ctx := itContext(t)
	c := dialIntegration(t, url, "alice", "tls", Options{TLSConfig: &tls.Config{RootCAs: pool}})
	var got collector
	if _, err := c.Subscribe(ctx, "t", got.add); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "t", "over TLS"); err != nil {
		t.Fatal(err)
	}
	got.wait(t, 1)
	_, err := Dial(ctx, url, Options{Name: "bob"})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("without the CA: %v", err)
	}
}

// Options.Compression against the server's setting: negotiated only when
// both want it, and then the bytes on the wire shrink.
func TestCompressionAgainstServer(t *testing.T) {
	payload := strings.Repeat(`{"sensor":"temperature","value":21.5,"unit":"celsius"},`, 40)
	payload = "[" + strings.TrimSuffix(payload, ",") + "]"
	measure := func(server, client bool) int64 {
		_, addr, wrote := runServer(t, serverConfig(server))
		ctx := itContext(t)
		c := dialIntegration(t, "ws://"+addr, "z", "zip", Options{Compression: client})
		var got collector
		if _, err := c.Subscribe(ctx, "t", got.add); err != nil {
			t.Fatal(err)
		}
		before := wrote.Load()
		for range 20 {
			if _, err := c.Publish(ctx, "t", []byte(payload)); err != nil {
				t.Fatal(err)
			}
		}
		msgs := got.wait(t, 20)
		if string(msgs[19].Payload) != payload {
			t.Fatal("payload changed")
		}
		c.Close()
		return wrote.Load() - before
	}
	plain, serverOnly, clientOnly, both := measure(false, false), measure(true, false), measure(false, true), measure(true, true)
	t.Logf("bytes written by the server for 20 messages of %d bytes: off %d, server only %d, client only %d, both %d",
		len(payload), plain, serverOnly, clientOnly, both)
	if serverOnly < plain*9/10 || clientOnly < plain*9/10 {
		t.Fatal("compressed without both sides agreeing")
	}
	if both > plain/4 {
		t.Fatalf("compression negotiated but %d bytes of %d", both, plain)
	}
}

func serverConfig(compression bool) server.Config {
	return server.Config{Compression: compression}
}

// writeTestCert makes a CA and a certificate for 127.0.0.1 signed by it.
func writeTestCert(t *testing.T, dir string) (*x509.CertPool, string, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, certFile, keyFile
}
