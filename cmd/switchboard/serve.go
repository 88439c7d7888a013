package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/switchboardhq/switchboard/assets"
	"github.com/switchboardhq/switchboard/server"
)

// serveFlags are the server's settings from the command line and the
// environment (DESIGN.md, "Command line": a contract).
type serveFlags struct {
	addr, adminToken, allowedOrigins string
	maxFrameBytes                    int64
	logFormat, logLevel              string
	sec                              securityFlags // serve_security.go
}

func runServe(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("serve", "serve [flags]\n\nRuns the server: dashboard at /, WebSocket endpoint at /ws, admin API at\n/api/v1, /healthz and /readyz. Every flag can also be set in the environment as\nSWITCHBOARD_<FLAG> (upper case, '-' as '_'); flags win.", e)
	var sf serveFlags
	fs.StringVar(&sf.addr, "addr", server.DefaultAddr, "listen address")
	fs.StringVar(&sf.adminToken, "admin-token", "", "bearer token for the admin API and dashboard (default: generated at start and printed in the dashboard URL)")
	fs.StringVar(&sf.allowedOrigins, "allowed-origins", "", "comma-separated host patterns (path.Match, e.g. app.example.com,*.example.com:8443) whose pages may open WebSockets; default same origin only")
	fs.Int64Var(&sf.maxFrameBytes, "max-frame-bytes", 64<<10, "largest frame a client may send; larger frames close the connection with 1009")
	fs.StringVar(&sf.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&sf.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	sf.sec.register(fs)
	dataDir := fs.String("data-dir", "", "keep the topics' histories (with their epochs and seqs) in this directory, so that clients recover across a restart (default: in memory)")
	var nf natsFlags
	nf.register(fs)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments, got %q", fs.Args())}
	}
	logger, err := newLogger(e, sf.logFormat, sf.logLevel)
	if err != nil {
		return err
	}
	cfg := server.Config{
		Addr:           sf.addr,
		AdminToken:     sf.adminToken,
		AllowedOrigins: splitList(sf.allowedOrigins),
		MaxFrameBytes:  sf.maxFrameBytes,
		Logger:         logger,
		Version:        version,
		DataDir:        *dataDir,
	}
	if err := sf.sec.apply(&cfg); err != nil {
		return err
	}
	if cfg.Cluster, err = nf.config(); err != nil {
		return err
	}
	if assets.Built() {
		cfg.Assets = assets.FS()
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen on %s: %w", sf.addr, err)
	}
	defer reloadOnHUP(ctx, srv)() // TLS certificate
	return srv.Run(ctx, ln)
}

func newLogger(e env, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: want text or json", format)}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
