package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// token runs `switchboard token` and returns what it printed.
func token(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"token"}, args...), getenvFrom(env), nil, &out, &errOut); err != nil {
		t.Fatalf("token %q: %v\n%s", args, err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// claimsOf decodes a token's claims (without checking its signature).
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTokenClaims(t *testing.T) {
	secret := token(t, nil, "--gen-secret")
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 {
		t.Fatalf("--gen-secret printed %q", secret)
	}
	env := map[string]string{"SWITCHBOARD_AUTH_SECRET": secret}

	c := claimsOf(t, token(t, env, "--name", "alice", "--session", "room-1,user-*", "--ttl", "90s"))
	if c["sub"] != "alice" || c["topics"] != nil || c["service"] != nil {
		t.Fatalf("claims %v", c)
	}
	if sid, _ := c["sid"].([]any); len(sid) != 2 || sid[1] != "user-*" {
		t.Fatalf("sid %v", c["sid"])
	}
	if exp := c["exp"].(float64) - c["iat"].(float64); exp != 90 {
		t.Fatalf("lifetime %vs", exp)
	}

	// --publish given empty: nothing; --subscribe not given: anything.
	c = claimsOf(t, token(t, env, "--name", "svc", "--session", "backend", "--publish", "", "--service"))
	topics, _ := c["topics"].(map[string]any)
	if pub, ok := topics["pub"].([]any); !ok || len(pub) != 0 || topics["sub"] != nil || c["service"] != true || c["sid"] != "backend" {
		t.Fatalf("claims %v", c)
	}

	for _, args := range [][]string{
		{"--name", "x"}, // no key
		{"--auth-secret", "short", "--name", "x"},
		{"--auth-secret", secret, "--ttl", "0s"},
		{"--auth-secret", secret, "--publish", "a..b"},
		{"--auth-secret", secret, "--auth-private-key", "k"},
	} {
		err := run(context.Background(), append([]string{"token"}, args...), getenvFrom(nil), nil, io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("token %q: %v, want a usage error", args, err)
		}
	}
}

// A token from `switchboard token` opens a server started with the same
// secret (from a file, through the environment); none, or a forged one,
// does not.
func TestTokenAgainstServe(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	secret := token(t, nil, "--gen-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SWITCHBOARD_AUTH_SECRET_FILE": secretFile}
	addr, logs, _ := startServe(t, []string{"--addr", "127.0.0.1:0"}, env)
	if strings.Contains(logs.String(), "AUTHENTICATION IS OFF") || strings.Contains(logs.String(), secret) {
		t.Fatalf("logs:\n%s", logs)
	}
	url := "ws://" + addr + "/ws"
	pub := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errOut bytes.Buffer
		err := run(ctx, append([]string{"pub", "--url", url, "--timeout", "5s"}, args...), getenvFrom(nil), nil, io.Discard, &errOut)
		if err != nil {
			return errors.New(err.Error() + " " + errOut.String())
		}
		return nil
	}
	tok := token(t, env, "--name", "alice", "--session", "room-1", "--publish", "chat.>")
	if err := pub("--name", "alice", "--session", "room-1", "--token", tok, "chat.x", "hi"); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	if err := pub("--name", "alice", "--session", "room-1", "--token", tok, "admin.x", "hi"); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("outside the token's topics: %v", err)
	}
	if err := pub("--name", "alice", "--session", "room-2", "--token", tok, "chat.x", "hi"); err == nil || !strings.Contains(err.Error(), "4403") {
		t.Fatalf("another session: %v", err)
	}
	if err := pub("--name", "alice", "--session", "room-1", "chat.x", "hi"); err == nil || !strings.Contains(err.Error(), "4401") {
		t.Fatalf("without a token: %v", err)
	}
	forged := token(t, map[string]string{"SWITCHBOARD_AUTH_SECRET": strings.Repeat("f", 43)}, "--name", "alice", "--session", "room-1")
	if err := pub("--name", "alice", "--session", "room-1", "--token", forged, "chat.x", "hi"); err == nil || !strings.Contains(err.Error(), "4401") {
		t.Fatalf("forged: %v", err)
	}
}

// --gen-key writes a key pair: serve verifies with the public key what
// token signs with the private one.
func TestTokenEd25519(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "sb.key")
	token(t, nil, "--gen-key", keyFile)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", fi, err)
	}
	if err := run(context.Background(), []string{"token", "--gen-key", keyFile}, getenvFrom(nil), nil, io.Discard, io.Discard); err == nil {
		t.Fatal("--gen-key overwrote a key")
	}
	addr, _, _ := startServe(t, []string{"--addr", "127.0.0.1:0", "--auth-public-key", keyFile + ".pub"}, nil)
	tok := token(t, nil, "--auth-private-key", keyFile, "--name", "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errOut bytes.Buffer
	if err := run(ctx, []string{"pub", "--url", "ws://" + addr + "/ws", "--name", "bob", "--token", tok, "t", "1"},
		getenvFrom(nil), nil, io.Discard, &errOut); err != nil {
		t.Fatalf("pub with an EdDSA token: %v %s", err, errOut.String())
	}
	// An HS256 token is refused by a server that only knows a public key.
	hs := token(t, map[string]string{"SWITCHBOARD_AUTH_SECRET": strings.Repeat("k", 32)}, "--name", "bob")
	err := run(ctx, []string{"pub", "--url", "ws://" + addr + "/ws", "--name", "bob", "--token", hs, "t", "1"},
		getenvFrom(nil), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "4401") {
		t.Fatalf("HS256 token: %v", err)
	}
}

func TestServeOpenModeWarning(t *testing.T) {
	_, logs, _ := startServe(t, []string{"--addr", "127.0.0.1:0"}, nil)
	if !strings.Contains(logs.String(), "AUTHENTICATION IS OFF") {
		t.Fatalf("no open-mode warning:\n%s", logs)
	}
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"serve", "--auth-secret", "x", "--auth-secret-file", "y"}, getenvFrom(nil), nil, io.Discard, &stderr)
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("two secrets: %v", err)
	}
	if err := run(context.Background(), []string{"serve", "--auth-secret", "short"}, getenvFrom(nil), nil, io.Discard, &stderr); err == nil {
		t.Fatal("a short secret was accepted")
	}
}
