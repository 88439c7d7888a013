package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// assetIndex describes the files of Config.Assets, read once by New.
type assetIndex struct {
	fsys  fs.FS
	files map[string]*asset // by path, without a leading slash
}

// asset is one file with its pre-compressed variants.
type asset struct {
	ctype string
	plain variant
	br    *variant // name.br, when present
	gz    *variant // name.gz, when present
}

type variant struct {
	name string // path in the FS
	etag string // quoted: first 16 hex digits of the SHA-256 of its bytes
	size int64
}

// contentTypes override mime.TypeByExtension, which depends on the host's
// MIME tables (and maps .ts to video/mp2t).
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".wasm":        "application/wasm",
	".svg":         "image/svg+xml",
	".json":        "application/json",
	".map":         "application/json",
	".ts":          "text/plain; charset=utf-8", // .d.ts: TypeScript declarations to read
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webmanifest": "application/manifest+json",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return echo.MIMEOctetStream
}

// indexAssets hashes every file of fsys (dot files excepted) and pairs each
// with its .br and .gz siblings.
func indexAssets(fsys fs.FS) (*assetIndex, error) {
	ix := &assetIndex{fsys: fsys, files: make(map[string]*asset)}
	found := make(map[string]variant)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		v, err := hashFile(fsys, name)
		if err != nil {
			return err
		}
		found[name] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("server: assets: %w", err)
	}
	for name, v := range found {
		a := &asset{ctype: contentType(name), plain: v}
		if br, ok := found[name+".br"]; ok {
			a.br = &br
		}
		if gz, ok := found[name+".gz"]; ok {
			a.gz = &gz
		}
		ix.files[name] = a
	}
	return ix, nil
}

func hashFile(fsys fs.FS, name string) (variant, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return variant{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return variant{}, err
	}
	return variant{name: name, etag: `"` + hex.EncodeToString(h.Sum(nil))[:16] + `"`, size: n}, nil
}

// handleAssets serves the dashboard and the browser client from
// Config.Assets, or a placeholder page when there are none.
func (s *Server) handleAssets() echo.HandlerFunc {
	ix := s.assets
	if ix == nil {
		return s.handlePlaceholder
	}
	return func(c echo.Context) error {
		r := c.Request()
		h := c.Response().Header()
		s.allowOrigin(r, h) // also on a 404: the page can tell "not built" from "not allowed"
		name := strings.TrimPrefix(path.Clean("/"+c.Param("*")), "/")
		a := ix.files[name]
		if name == "" || a == nil {
			// A directory: its index.html, at a URL that ends in "/" so
			// that the page's relative links resolve.
			a = ix.files[path.Join(name, "index.html")]
			if a == nil {
				return echo.ErrNotFound
			}
			if !strings.HasSuffix(r.URL.Path, "/") {
				// Relative, so that it also works behind a path prefix.
				to := path.Base(name) + "/"
				if r.URL.RawQuery != "" {
					to += "?" + r.URL.RawQuery
				}
				return c.Redirect(http.StatusMovedPermanently, to)
			}
		}
		v := &a.plain
		if a.br != nil || a.gz != nil {
			h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
			switch accept := r.Header.Values(echo.HeaderAcceptEncoding); {
			case a.br != nil && acceptsEncoding(accept, "br"):
				v = a.br
				h.Set(echo.HeaderContentEncoding, "br")
			case a.gz != nil && acceptsEncoding(accept, "gzip"):
				v = a.gz
				h.Set(echo.HeaderContentEncoding, "gzip")
			}
		}
		h.Set(echo.HeaderContentType, a.ctype)
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		// No file name carries a content hash: browsers revalidate every
		// time (cheap with the ETag), so a new build is never served stale.
		h.Set(echo.HeaderCacheControl, "no-cache")
		h.Set("ETag", v.etag)
		f, err := ix.fsys.Open(v.name)
		if err != nil {
			return fmt.Errorf("asset %s: %w", v.name, err)
		}
		defer f.Close()
		rs, ok := f.(io.ReadSeeker)
		if !ok {
			data, err := io.ReadAll(f)
			if err != nil {
				return fmt.Errorf("asset %s: %w", v.name, err)
			}
			rs = bytes.NewReader(data)
		}
		if v != &a.plain && r.Header.Get("Range") == "" && r.Header.Get("If-Match") == "" &&
			r.Header.Get("If-Unmodified-Since") == "" {
			// ServeContent leaves Content-Length out when Content-Encoding
			// is set; a full response of a pre-compressed file has one
			// (a 304 drops it).
			h.Set(echo.HeaderContentLength, strconv.FormatInt(v.size, 10))
		}
		// ServeContent answers If-None-Match with 304, HEAD and ranges.
		http.ServeContent(c.Response(), r, "", time.Time{}, rs)
		return nil
	}
}

// allowOrigin lets a page of an allowed origin read the response (CORS,
// without credentials): switchboard.js imported as a module, the wasm and
// wasm_exec.js fetched from another site. Requests without an Origin, or
// from other origins, get no CORS header: the browser keeps the response
// from the page.
func (s *Server) allowOrigin(r *http.Request, h http.Header) {
	h.Add(echo.HeaderVary, echo.HeaderOrigin)
	origin := r.Header.Get(echo.HeaderOrigin)
	if origin != "" && s.originAllowed(r.Host, origin) {
		h.Set(echo.HeaderAccessControlAllowOrigin, origin)
	}
}

// originAllowed applies the WebSocket endpoint's origin rule (that of
// coder/websocket's Accept, which checks /ws): the server's own host, or a
// Config.AllowedOrigins pattern matched with path.Match, case-insensitively,
// against the Origin's host[:port] (scheme://host[:port] when the pattern
// holds "://").
func (s *Server) originAllowed(host, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes "null" (sandboxed frames, file: pages)
	}
	if strings.EqualFold(host, u.Host) {
		return true
	}
	for _, p := range s.cfg.AllowedOrigins {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// acceptsEncoding reports whether Accept-Encoding header values accept
// token: named with a q-value above 0, or covered by "*" when not named.
func acceptsEncoding(header []string, token string) bool {
	star := false
	for _, line := range header {
		for part := range strings.SplitSeq(line, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.TrimSpace(name)
			ok := qValue(params) > 0
			switch {
			case strings.EqualFold(name, token):
				return ok
			case name == "*":
				star = ok
			}
		}
	}
	return star
}

// qValue parses the q parameter of an Accept-Encoding element (default 1;
// unparsable counts as 0).
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0
			}
			return q
		}
	}
	return 1
}

var placeholderTime = time.Now()

// handlePlaceholder stands in for the dashboard when no assets are built.
func (s *Server) handlePlaceholder(c echo.Context) error {
	r := c.Request()
	s.allowOrigin(r, c.Response().Header()) // a page embedding the client learns it is not built
	if p := c.Param("*"); p != "" && p != "index.html" {
		return echo.ErrNotFound
	}
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
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set(echo.HeaderCacheControl, "no-cache") // the built dashboard replaces it
	http.ServeContent(c.Response(), r, "", placeholderTime, strings.NewReader(page))
	return nil
}
