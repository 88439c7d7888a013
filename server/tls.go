package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// certReloader serves the TLS certificate and reloads it from its files on
// demand (SIGHUP through Server.ReloadTLS) and when their modification time
// or size changes. A failed reload keeps the previous certificate.
type certReloader struct {
	certFile, keyFile string

	mu    sync.RWMutex
	cert  *tls.Certificate
	stamp string // modification times and sizes of the files loaded
	bad   string // those of files that failed to load: not retried until they change
}

// fileStamp identifies the current version of the certificate files.
func (r *certReloader) fileStamp() string {
	var st string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return ""
		}
		st += fmt.Sprintf("%d:%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return st
}

func (r *certReloader) load() error {
	stamp := r.fileStamp()
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = stamp
		return fmt.Errorf("server: TLS certificate: %w", err)
	}
	r.cert, r.stamp = &cert, stamp
	return nil
}

// changed reports whether the files differ from those loaded.
func (r *certReloader) changed() bool {
	st := r.fileStamp()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return st != "" && st != r.stamp && st != r.bad
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}

// ReloadTLS reads the certificate and key files again; new TLS handshakes
// use them, established connections keep theirs. On error the previous
// certificate stays. It returns nil without TLS.
func (s *Server) ReloadTLS() error {
	if s.certs == nil {
		return nil
	}
	if err := s.certs.load(); err != nil {
		s.metrics.tlsLoad.WithLabelValues("error").Inc()
		s.log.Error("TLS certificate reload failed: keeping the previous one", "cert", s.cfg.TLSCertFile, "err", err)
		return err
	}
	s.metrics.tlsLoad.WithLabelValues("ok").Inc()
	s.log.Info("TLS certificate loaded", "cert", s.cfg.TLSCertFile)
	return nil
}

// TLSConfig returns the TLS settings Run serves with (nil without TLS), for
// programs that mount Handler in their own HTTPS server. HTTP/2 is not
// offered: WebSocket upgrades need HTTP/1.1.
func (s *Server) TLSConfig() *tls.Config {
	if s.certs == nil {
		return nil
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.certs.get,
		NextProtos:     []string{"http/1.1"},
	}
}

// watchCerts reloads the certificate when its files change.
func (s *Server) watchCerts() {
	t := time.NewTicker(s.cfg.TLSReloadEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if s.certs.changed() {
				s.ReloadTLS()
			}
		}
	}
}

// redirectServer answers plain HTTP on TLSRedirectAddr with a redirect to
// the same URL over https on the TLS listener's port.
func (s *Server) redirectServer(tlsAddr net.Addr) *http.Server {
	port := ""
	if ta, ok := tlsAddr.(*net.TCPAddr); ok && ta.Port != 443 {
		port = fmt.Sprint(ta.Port)
	}
	return &http.Server{
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       time.Minute,
		ErrorLog:          httpErrorLog(s),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if host == "" {
				http.Error(w, "Host header required", http.StatusBadRequest)
				return
			}
			if port != "" {
				host = net.JoinHostPort(host, port)
			}
			w.Header().Set("Connection", "close")
			http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
		}),
	}
}

// serveRedirect runs the redirect server until Run ends it.
func (s *Server) serveRedirect(tlsAddr net.Addr) (stop func(), err error) {
	ln := s.cfg.redirectLn
	if ln == nil {
		if ln, err = net.Listen("tcp", s.cfg.TLSRedirectAddr); err != nil {
			return nil, fmt.Errorf("server: listen for the HTTPS redirect: %w", err)
		}
	}
	rs := s.redirectServer(tlsAddr)
	done := make(chan struct{})
	go func() { // waited for by stop
		defer close(done)
		if err := rs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTPS redirect server failed", "err", err)
		}
	}()
	s.log.Info("redirecting HTTP to HTTPS", "addr", ln.Addr().String())
	return func() {
		rs.Close()
		<-done
	}, nil
}

// httpErrorLog sends net/http's own errors (handshake failures, bad
// requests) to the server's logger.
func httpErrorLog(s *Server) *log.Logger {
	return slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
}

// loadCerts loads the configured certificate (nil without TLS).
func loadCerts(cfg Config) (*certReloader, error) {
	if cfg.TLSCertFile == "" {
		return nil, nil
	}
	r := &certReloader{certFile: cfg.TLSCertFile, keyFile: cfg.TLSKeyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}
