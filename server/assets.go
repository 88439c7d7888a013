package server

import (
	"bytes"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// handleAssets serves the dashboard from Config.Assets, or a placeholder.
func (s *Server) handleAssets() echo.HandlerFunc {
	fsys := s.cfg.Assets
	if fsys == nil {
		return s.handlePlaceholder
	}
	files := http.FileServerFS(fsys)
	return func(c echo.Context) error {
		name := strings.TrimPrefix(path.Clean("/"+c.Param("*")), "/")
		if name == "" {
			name = "."
		}
		info, err := fs.Stat(fsys, name)
		if err != nil {
			return echo.ErrNotFound
		}
		if info.IsDir() {
			if _, err := fs.Stat(fsys, path.Join(name, "index.html")); err != nil {
				return echo.ErrNotFound
			}
		} else if servePrecompressed(c, fsys, name, info) {
			return nil
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// servePrecompressed serves name.br or name.gz, when present and accepted,
// with the right Content-Encoding and name's Content-Type.
func servePrecompressed(c echo.Context, fsys fs.FS, name string, info fs.FileInfo) bool {
	accept := c.Request().Header.Get(echo.HeaderAcceptEncoding)
	for _, enc := range []struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !acceptsEncoding(accept, enc.token) {
			continue
		}
		data, err := fs.ReadFile(fsys, name+enc.ext)
		if err != nil {
			continue
		}
		h := c.Response().Header()
		h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
		h.Set(echo.HeaderContentEncoding, enc.token)
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = echo.MIMEOctetStream
		}
		h.Set(echo.HeaderContentType, ctype)
		http.ServeContent(c.Response(), c.Request(), "", info.ModTime(), bytes.NewReader(data))
		return true
	}
	return false
}

// acceptsEncoding reports whether an Accept-Encoding header accepts token
// (q=0 refuses it).
func acceptsEncoding(header, token string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), token) {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

var placeholderTime = time.Now()

// handlePlaceholder stands in for the dashboard when no assets are built.
func (s *Server) handlePlaceholder(c echo.Context) error {
	if p := c.Param("*"); p != "" && p != "index.html" {
		return echo.ErrNotFound
	}
	r := c.Request()
	scheme := "ws"
	if r.TLS != nil || strings.EqualFold(r.Header.Get(echo.HeaderXForwardedProto), "https") {
		scheme = "wss"
	}
	wsURL := html.EscapeString(scheme + "://" + r.Host + "/ws")
	page := `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}code{background:#eee;padding:.1em .3em}</style>
</head><body>
<h1>Switchboard</h1>
<p>The server is running. The dashboard is coming: it is not built into this binary yet.
Build the frontend and the WebAssembly client with <code>go tool task build</code> (see the README).</p>
<p>WebSocket endpoint: <code>` + wsURL + `</code></p>
<p>Health: <a href="/healthz">/healthz</a>, readiness: <a href="/readyz">/readyz</a>.</p>
</body></html>
`
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	http.ServeContent(c.Response(), r, "", placeholderTime, strings.NewReader(page))
	return nil
}
