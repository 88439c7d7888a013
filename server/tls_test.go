package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchboard test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a certificate for 127.0.0.1 and localhost, with the given
// serial, and its key to dir; it returns their paths.
func (ca *testCA) issue(t testing.TB, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	// Written through temporary files and renamed, as certificate managers
	// do, so that a reload never reads half a file.
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{certFile, "CERTIFICATE", der}, {keyFile, "PRIVATE KEY", kder}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// servedSerial connects over TLS and returns the serial of the server's
// certificate.
func servedSerial(t testing.TB, addr string, pool *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.issue(t, dir, 100)
	redirectLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs := runServer(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile, TLSReloadEvery: 20 * time.Millisecond,
		TLSRedirectAddr: "unused", redirectLn: redirectLn})
	if !strings.Contains(rs.logs.String(), "https://127.0.0.1:") {
		t.Fatalf("the dashboard URL is not https:\n%s", rs.logs)
	}
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	defer httpClient.CloseIdleConnections()

	// wss:// with the test CA; refused without it.
	url := "wss://" + rs.addr + "/ws?name=a&session_id=s"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: httpClient})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, ws: ws}
	c.mustWelcome()
	c.expectNothing()
	ws.Close(websocket.StatusNormalClosure, "")
	if _, _, err := websocket.Dial(ctx, url, nil); err == nil {
		t.Fatal("a certificate from an unknown CA was accepted")
	}
	// Plain HTTP on the TLS port gets nothing useful.
	if resp, err := http.Get("http://" + rs.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}

	// Reload on demand (SIGHUP) ...
	if got := servedSerial(t, rs.addr, ca.pool); got != 100 {
		t.Fatalf("serial %d", got)
	}
	ca.issue(t, dir, 200)
	if err := rs.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, rs.addr, ca.pool); got != 200 {
		t.Fatalf("after ReloadTLS: serial %d", got)
	}
	// ... and when the files change.
	ca.issue(t, dir, 300)
	waitFor(t, "the new certificate", func() bool { return servedSerial(t, rs.addr, ca.pool) == 300 })
	// A broken file keeps the previous certificate.
	os.WriteFile(certFile, []byte("garbage"), 0o600)
	if err := rs.ReloadTLS(); err == nil {
		t.Fatal("a broken certificate loaded")
	}
	if got := servedSerial(t, rs.addr, ca.pool); got != 300 {
		t.Fatalf("after a failed reload: serial %d", got)
	}

	// HTTP → HTTPS redirect.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get("http://" + redirectLn.Addr().String() + "/api/v1/clients?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(rs.addr)
	if want := "https://127.0.0.1:" + port + "/api/v1/clients?x=1"; resp.StatusCode != http.StatusPermanentRedirect ||
		resp.Header.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}
