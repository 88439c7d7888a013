package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/switchboardhq/switchboard/assets"
)

func testAssets() fstest.MapFS {
	return fstest.MapFS{
		"index.html":          {Data: []byte("<html>dashboard</html>")},
		"switchboard.js":      {Data: []byte("export function load() {}")},
		"switchboard.d.ts":    {Data: []byte("export declare function load(): Promise<void>;")},
		"module.mjs":          {Data: []byte("export {}")},
		"wasm_exec.js":        {Data: []byte("globalThis.Go = class {}")},
		"switchboard.wasm":    {Data: []byte("\x00asm-identity")},
		"switchboard.wasm.br": {Data: []byte("\x00asm-brotli")},
		"switchboard.wasm.gz": {Data: []byte("\x00asm-gzip")},
		"dashboard.css":       {Data: []byte("body{}")},
		"favicon.svg":         {Data: []byte("<svg/>")},
		"docs/index.html":     {Data: []byte("<html>docs</html>")},
		"empty/readme.txt":    {Data: []byte("no index")},
		".gitkeep":            {Data: []byte("")},
		".hidden/secret.js":   {Data: []byte("secret")},
	}
}

func TestAssetContentTypes(t *testing.T) {
	s := newServer(t, Config{Assets: testAssets()})
	for _, tc := range []struct{ path, ctype string }{
		{"/", "text/html; charset=utf-8"},
		{"/index.html", "text/html; charset=utf-8"},
		{"/switchboard.js", "text/javascript; charset=utf-8"},
		{"/module.mjs", "text/javascript; charset=utf-8"},
		{"/wasm_exec.js", "text/javascript; charset=utf-8"},
		{"/switchboard.d.ts", "text/plain; charset=utf-8"},
		{"/switchboard.wasm", "application/wasm"},
		{"/dashboard.css", "text/css; charset=utf-8"},
		{"/favicon.svg", "image/svg+xml"},
		{"/docs/", "text/html; charset=utf-8"},
	} {
		resp, _ := get(t, s.base+tc.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: %d %q, want %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tc.path)
		}
	}
	for _, p := range []string{"/.gitkeep", "/.hidden/secret.js", "/empty/", "/missing.js", "/../../etc/passwd"} {
		if resp, _ := get(t, s.base+p); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	// A directory URL without its slash is redirected (relatively) to it.
	resp, _ := get(t, s.base+"/docs?x=1")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "docs/?x=1" {
		t.Fatalf("/docs: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestAssetPrecompressed(t *testing.T) {
	s := newServer(t, Config{Assets: testAssets()})
	for _, tc := range []struct{ accept, body, encoding string }{
		{"gzip, deflate, br, zstd", "\x00asm-brotli", "br"},
		{"br", "\x00asm-brotli", "br"},
		{"gzip", "\x00asm-gzip", "gzip"},
		{"br;q=0, gzip;q=0.5", "\x00asm-gzip", "gzip"},
		{"gzip;q=0, br;q=0", "\x00asm-identity", ""},
		{"GZIP; Q=1", "\x00asm-gzip", "gzip"},
		{"*", "\x00asm-brotli", "br"},
		{"br;q=0, *", "\x00asm-gzip", "gzip"},
		{"*;q=0", "\x00asm-identity", ""},
		{"identity", "\x00asm-identity", ""},
		{"deflate", "\x00asm-identity", ""},
		{"", "\x00asm-identity", ""},
	} {
		resp, body := get(t, s.base+"/switchboard.wasm", "Accept-Encoding", tc.accept)
		h := resp.Header
		if body != tc.body || h.Get("Content-Encoding") != tc.encoding || h.Get("Content-Type") != "application/wasm" ||
			!vary(h, "Accept-Encoding") || !vary(h, "Origin") {
			t.Errorf("Accept-Encoding %q: %q %v", tc.accept, body, h)
		}
	}
	// Without variants nothing varies by encoding and nothing is compressed
	// on the fly.
	resp, body := get(t, s.base+"/switchboard.js", "Accept-Encoding", "gzip, br")
	if body != "export function load() {}" || resp.Header.Get("Content-Encoding") != "" ||
		vary(resp.Header, "Accept-Encoding") {
		t.Fatalf("switchboard.js: %q %v", body, resp.Header)
	}
	// The variants can be fetched as files of their own too.
	if resp, body := get(t, s.base+"/switchboard.wasm.gz"); resp.StatusCode != 200 || body != "\x00asm-gzip" {
		t.Fatalf("wasm.gz: %d %q", resp.StatusCode, body)
	}
}

var etagForm = regexp.MustCompile(`^"[0-9a-f]{16}"$`)

func TestAssetCaching(t *testing.T) {
	s := newServer(t, Config{Assets: testAssets()})
	for _, p := range []string{"/", "/switchboard.js", "/switchboard.wasm", "/wasm_exec.js", "/dashboard.css"} {
		resp, _ := get(t, s.base+p)
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
	}
	etags := map[string]string{}
	for _, enc := range []string{"br", "gzip", "identity"} {
		resp, _ := get(t, s.base+"/switchboard.wasm", "Accept-Encoding", enc)
		etag := resp.Header.Get("ETag")
		if !etagForm.MatchString(etag) {
			t.Fatalf("%s: ETag %q", enc, etag)
		}
		for other, e := range etags {
			if e == etag {
				t.Fatalf("%s and %s share the ETag %s", enc, other, etag)
			}
		}
		etags[enc] = etag
		// Revalidation: 304 without a body for the same variant.
		resp, body := get(t, s.base+"/switchboard.wasm", "Accept-Encoding", enc, "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified || body != "" || resp.Header.Get("ETag") != etag {
			t.Fatalf("%s revalidation: %d %q %v", enc, resp.StatusCode, body, resp.Header)
		}
	}
	// Another variant's ETag (or a new build's) gets the full response.
	resp, body := get(t, s.base+"/switchboard.wasm", "Accept-Encoding", "gzip", "If-None-Match", etags["br"])
	if resp.StatusCode != 200 || body != "\x00asm-gzip" {
		t.Fatalf("stale ETag: %d %q", resp.StatusCode, body)
	}
	// The ETag is a hash of the content: the same bytes elsewhere, the same tag.
	a, _ := get(t, s.base+"/")
	b, _ := get(t, s.base+"/index.html")
	if a.Header.Get("ETag") != b.Header.Get("ETag") {
		t.Fatal("/ and /index.html differ")
	}
	// A full pre-compressed response states its length; a range of it too.
	if resp, _ := get(t, s.base+"/switchboard.wasm", "Accept-Encoding", "br"); resp.ContentLength != 11 {
		t.Fatalf("br length %d", resp.ContentLength)
	}
	resp, body = get(t, s.base+"/switchboard.wasm", "Accept-Encoding", "br", "Range", "bytes=0-3")
	if resp.StatusCode != http.StatusPartialContent || body != "\x00asm" || resp.ContentLength != 4 {
		t.Fatalf("range: %d %q %d", resp.StatusCode, body, resp.ContentLength)
	}
	// HEAD: the headers without the body.
	req, _ := http.NewRequest("HEAD", s.base+"/switchboard.wasm", nil)
	req.Header.Set("Accept-Encoding", "br")
	head, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != 200 || head.Header.Get("ETag") != etags["br"] || head.Header.Get("Content-Length") != "11" {
		t.Fatalf("HEAD: %d %v", head.StatusCode, head.Header)
	}
}

func TestAssetCORS(t *testing.T) {
	s := newServer(t, Config{Assets: testAssets(),
		AllowedOrigins: []string{"app.example.com", "*.trusted.test:8443", "https://secure.example"}})
	host := strings.TrimPrefix(s.base, "http://")
	for _, tc := range []struct {
		origin  string
		allowed bool
	}{
		{"", false},
		{"http://app.example.com", true},
		{"https://APP.example.com", true},
		{"http://app.example.com:8080", false}, // the pattern has no port
		{"https://a.trusted.test:8443", true},
		{"https://a.trusted.test", false},
		{"https://secure.example", true},
		{"http://secure.example", false}, // the pattern names the scheme
		{"http://evil.example", false},
		{"http://app.example.com.evil.example", false},
		{"null", false},
		{"http://" + host, true}, // the server's own host, as for /ws
	} {
		for _, p := range []string{"/switchboard.js", "/switchboard.wasm", "/wasm_exec.js"} {
			var resp *http.Response
			if tc.origin == "" {
				resp, _ = get(t, s.base+p)
			} else {
				resp, _ = get(t, s.base+p, "Origin", tc.origin)
			}
			acao := resp.Header.Get("Access-Control-Allow-Origin")
			if (tc.allowed && acao != tc.origin) || (!tc.allowed && acao != "") || resp.StatusCode != 200 {
				t.Errorf("Origin %q, %s: %d Access-Control-Allow-Origin %q", tc.origin, p, resp.StatusCode, acao)
			}
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("Origin %q, %s: credentials allowed", tc.origin, p)
			}
			if !vary(resp.Header, "Origin") {
				t.Errorf("%s: no Vary: Origin", p)
			}
		}
	}
	// A missing file (the wasm not built) is a 404 the page can read.
	for _, cfg := range []Config{{Assets: testAssets()}, {}} {
		cfg.AllowedOrigins = []string{"app.example.com"}
		s := newServer(t, cfg)
		resp, _ := get(t, s.base+"/missing.wasm", "Origin", "http://app.example.com")
		if resp.StatusCode != 404 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example.com" {
			t.Fatalf("404 (assets %v): %d %v", cfg.Assets != nil, resp.StatusCode, resp.Header)
		}
		resp, _ = get(t, s.base+"/missing.wasm", "Origin", "http://evil.example")
		if resp.StatusCode != 404 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("404 for another origin: %d %v", resp.StatusCode, resp.Header)
		}
	}
	// A revalidation keeps the CORS header (the browser checks it on 304s).
	resp, _ := get(t, s.base+"/switchboard.js", "Origin", "http://app.example.com")
	resp, _ = get(t, s.base+"/switchboard.js", "Origin", "http://app.example.com", "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != 304 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example.com" {
		t.Fatalf("304: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestIndexAssets(t *testing.T) {
	ix, err := indexAssets(testAssets())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.files[".gitkeep"]; ok {
		t.Fatal("dot file indexed")
	}
	a := ix.files["switchboard.wasm"]
	if a == nil || a.br == nil || a.gz == nil || a.br.name != "switchboard.wasm.br" {
		t.Fatalf("wasm entry %+v", a)
	}
	if ix.files["switchboard.js"].br != nil {
		t.Fatal("variant invented")
	}
	// The embedded build output (or the empty placeholder of a fresh clone).
	if _, err := indexAssets(assets.FS()); err != nil {
		t.Fatal(err)
	}
}

// vary reports whether h's Vary lists field.
func vary(h http.Header, field string) bool {
	for _, line := range h.Values("Vary") {
		for f := range strings.SplitSeq(line, ",") {
			if strings.EqualFold(strings.TrimSpace(f), field) {
				return true
			}
		}
	}
	return false
}
