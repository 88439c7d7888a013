package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/protocol"
)

func TestAdminAuth(t *testing.T) {
	s := newServer(t, Config{})
	endpoints := []struct{ method, path, body string }{
		{"GET", "/api/v1/clients", ""},
		{"GET", "/api/v1/clients?session_id=s", ""},
		{"GET", "/api/v1/sessions", ""},
		{"POST", "/api/v1/sessions/s/publish", `{"topic":"t","payload":1}`},
		{"POST", "/api/v1/clients/c_x/send", `{"topic":"t","payload":1}`},
		{"POST", "/api/v1/broadcast", `{"topic":"t","payload":1}`},
		{"DELETE", "/api/v1/clients/c_x", ""},
		{"GET", "/api/v1/nope", ""},
	}
	for _, e := range endpoints {
		for _, token := range []string{"", "wrong", testToken + "x", strings.ToUpper(testToken)} {
			status, body := s.api(t, e.method, e.path, token, e.body)
			if status != http.StatusUnauthorized || body["code"] != "unauthorized" || body["message"] == "" {
				t.Errorf("%s %s with token %q: %d %v", e.method, e.path, token, status, body)
			}
		}
		if status, _ := s.api(t, e.method, e.path, testToken, e.body); status == http.StatusUnauthorized {
			t.Errorf("%s %s refused the right token", e.method, e.path)
		}
	}
	// The scheme is case-insensitive.
	req, _ := http.NewRequest("GET", s.base+"/api/v1/clients", nil)
	req.Header.Set("Authorization", "bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lower-case bearer: %d", resp.StatusCode)
	}
}

func TestAdminAPI(t *testing.T) {
	s := newServer(t, Config{})
	a := s.connect(t, "alice", "s1")
	b := s.connect(t, "bob", "s2")
	a.send(`{"type":"subscribe","id":"1","topic":"news"}`)
	a.expect("ack")

	status, body := s.api(t, "GET", "/api/v1/clients", testToken, "")
	clients, _ := body["clients"].([]any)
	if status != 200 || len(clients) != 2 {
		t.Fatalf("clients: %d %v", status, body)
	}
	first := clients[0].(map[string]any)
	for _, k := range []string{"client_id", "name", "session_id", "remote_addr", "connected_at", "subscriptions", "msgs_in", "msgs_out", "bytes_in", "bytes_out"} {
		if _, ok := first[k]; !ok {
			t.Errorf("client lacks %q: %v", k, first)
		}
	}
	if first["client_id"] != a.id || first["subscriptions"].([]any)[0] != "news" {
		t.Fatalf("first client %v", first)
	}
	_, body = s.api(t, "GET", "/api/v1/clients?session_id=s2", testToken, "")
	if clients := body["clients"].([]any); len(clients) != 1 || clients[0].(map[string]any)["name"] != "bob" {
		t.Fatalf("clients of s2: %v", body)
	}

	_, body = s.api(t, "GET", "/api/v1/sessions", testToken, "")
	sessions := body["sessions"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("sessions: %v", body)
	}
	s1 := sessions[0].(map[string]any)
	topics := s1["topics"].([]any)
	if s1["session_id"] != "s1" || len(s1["clients"].([]any)) != 1 || len(topics) != 1 ||
		topics[0].(map[string]any)["topic"] != "news" || topics[0].(map[string]any)["subscribers"] != 1.0 {
		t.Fatalf("session s1: %v", s1)
	}

	status, body = s.api(t, "POST", "/api/v1/sessions/s1/publish", testToken, `{"topic":"news","payload":{"headline":"x"}}`)
	if status != 200 || body["seq"] != 1.0 || body["delivered"] != 1.0 {
		t.Fatalf("publish: %d %v", status, body)
	}
	m := a.expect("message")
	if m.PublisherName != "$server" || m.SessionID != "s1" || m.SeqValue() != 1 || string(m.Payload) != `{"headline":"x"}` {
		t.Fatalf("operator publish delivered %s", js(m))
	}
	_, body = s.api(t, "POST", "/api/v1/sessions/s1/publish", testToken, `{"topic":"news","payload":2,"publisher_name":"billing"}`)
	if body["seq"] != 2.0 {
		t.Fatalf("second publish %v", body)
	}
	if m := a.expect("message"); m.PublisherName != "billing" {
		t.Fatalf("named publisher: %s", js(m))
	}
	b.expectNothing()

	status, _ = s.api(t, "POST", "/api/v1/clients/"+b.id+"/send", testToken, `{"topic":"dm","payload":"hi"}`)
	if status != 200 {
		t.Fatalf("send: %d", status)
	}
	if m := b.expect("message"); m.Topic != "dm" || m.SessionID != "s2" || m.PublisherName != "$server" || m.Seq != nil {
		t.Fatalf("operator send delivered %s", js(m))
	}
	status, body = s.api(t, "POST", "/api/v1/clients/c_nobody/send", testToken, `{"topic":"dm","payload":"hi"}`)
	if status != 404 || body["code"] != "not_found" {
		t.Fatalf("send to unknown: %d %v", status, body)
	}

	status, body = s.api(t, "POST", "/api/v1/broadcast", testToken, `{"topic":"announce","payload":"maintenance"}`)
	if status != 200 || body["delivered"] != 2.0 {
		t.Fatalf("broadcast: %d %v", status, body)
	}
	for _, c := range []*client{a, b} {
		if m := c.expect("message"); m.Topic != "announce" || m.SessionID != c.welcome.SessionID || m.Seq != nil {
			t.Fatalf("broadcast delivered %s", js(m))
		}
	}

	for _, bad := range []struct{ path, body string }{
		{"/api/v1/sessions/s1/publish", `{"payload":1}`},
		{"/api/v1/sessions/s1/publish", `{"topic":"t"}`},
		{"/api/v1/sessions/s1/publish", `{"topic":"a.*","payload":1}`},
		{"/api/v1/sessions/s1/publish", `{"topic":"t","payload":1,"publisher_name":"no spaces"}`},
		{"/api/v1/sessions/s1/publish", `not json`},
		{"/api/v1/sessions/bad%20id/publish", `{"topic":"t","payload":1}`},
		{"/api/v1/broadcast", `{"topic":"","payload":1}`},
	} {
		status, body := s.api(t, "POST", bad.path, testToken, bad.body)
		if status != 400 || body["code"] != "bad_request" || body["message"] == "" {
			t.Errorf("POST %s %s: %d %v", bad.path, bad.body, status, body)
		}
	}
	status, body = s.api(t, "POST", "/api/v1/broadcast", testToken, `{"topic":"t","payload":"`+strings.Repeat("x", 2<<20)+`"}`)
	if status != http.StatusRequestEntityTooLarge || body["code"] != "too_large" {
		t.Fatalf("huge body: %d %v", status, body)
	}
	status, body = s.api(t, "GET", "/api/v1/nope", testToken, "")
	if status != 404 || body["code"] != "not_found" {
		t.Fatalf("unknown API path: %d %v", status, body)
	}
	status, body = s.api(t, "PUT", "/api/v1/broadcast", testToken, "")
	if (status != 405 && status != 404) || body["code"] == "" {
		t.Fatalf("wrong method: %d %v", status, body)
	}

	status, body = s.api(t, "DELETE", "/api/v1/clients/"+b.id, testToken, "")
	if status != 200 || body["disconnected"] != true {
		t.Fatalf("disconnect: %d %v", status, body)
	}
	if code := b.closeStatus(); code != websocket.StatusCode(protocol.CloseKicked) {
		t.Fatalf("close status %d, want 4003", code)
	}
	waitFor(t, "bob gone", func() bool { return len(s.Clients("s2")) == 0 })
	status, _ = s.api(t, "DELETE", "/api/v1/clients/"+b.id, testToken, "")
	if status != 404 {
		t.Fatalf("second disconnect: %d", status)
	}
}

func TestHealth(t *testing.T) {
	s := newServer(t, Config{})
	for _, p := range []string{"/healthz", "/readyz"} {
		status, body := s.api(t, "GET", p, "", "")
		if status != 200 || body["status"] == "" {
			t.Fatalf("%s: %d %v", p, status, body)
		}
	}
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// Exactly the headers given: no Accept-Encoding added, nothing
	// decompressed.
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestDashboardPlaceholder(t *testing.T) {
	s := newServer(t, Config{})
	resp, body := get(t, s.base+"/")
	host := strings.TrimPrefix(s.base, "http://")
	if resp.StatusCode != 200 || !strings.Contains(body, "ws://"+host+"/ws") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("placeholder: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, s.base+"/missing.js"); resp.StatusCode != 404 {
		t.Fatalf("missing file: %d", resp.StatusCode)
	}
}

func TestDashboardAssets(t *testing.T) {
	assets := fstest.MapFS{
		"index.html":    {Data: []byte("<html>dashboard</html>")},
		"app.js":        {Data: []byte("console.log(1)")},
		"app.js.br":     {Data: []byte("BROTLI")},
		"app.js.gz":     {Data: []byte("GZIP")},
		"sub/index.css": {Data: []byte("body{}")},
	}
	s := newServer(t, Config{Assets: assets})
	if resp, body := get(t, s.base+"/"); resp.StatusCode != 200 || body != "<html>dashboard</html>" {
		t.Fatalf("index: %d %q", resp.StatusCode, body)
	}
	resp, body := get(t, s.base+"/app.js", "Accept-Encoding", "gzip, br")
	if body != "BROTLI" || resp.Header.Get("Content-Encoding") != "br" ||
		!strings.Contains(resp.Header.Get("Content-Type"), "javascript") || !vary(resp.Header, "Accept-Encoding") {
		t.Fatalf("br: %q %v", body, resp.Header)
	}
	if resp, body := get(t, s.base+"/app.js", "Accept-Encoding", "gzip, br;q=0"); body != "GZIP" || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip: %q %v", body, resp.Header)
	}
	if resp, body := get(t, s.base+"/app.js", "Accept-Encoding", "identity"); body != "console.log(1)" || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("identity: %q %v", body, resp.Header)
	}
	if resp, _ := get(t, s.base+"/sub/"); resp.StatusCode != 404 {
		t.Fatalf("directory without index: %d", resp.StatusCode)
	}
	if resp, _ := get(t, s.base+"/../../etc/passwd"); resp.StatusCode != 404 {
		t.Fatalf("traversal: %d", resp.StatusCode)
	}
}
