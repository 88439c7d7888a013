package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardhq/switchboard/server"
)

// runToken mints a token for development (or prints a new secret, or
// writes a new Ed25519 key pair). Production backends mint their own,
// with any JWT library or server.MintToken (docs/operations.md).
func runToken(_ context.Context, args []string, e env) error {
	fs := newFlagSet("token", `token [flags]

Prints a signed token (JWT) for a client, for development and tests:

  switchboard token --auth-secret-file secret --name alice --session room-1 --ttl 1h
  switchboard token --auth-private-key sb.key --name billing --service

or a new HS256 secret (--gen-secret), or writes a new Ed25519 key pair for
--auth-public-key (--gen-key PATH writes PATH and PATH.pub).

Lists are comma-separated. --publish and --subscribe restrict the topics
(topic patterns); not given, any topic; given empty, none.`, e)
	var (
		secret, secretFile, privateKey string
		name, sessions, pub, sub       string
		issuer, audience, id           string
		service, genSecret             bool
		genKey                         string
		ttl, notBefore                 time.Duration
	)
	fs.StringVar(&secret, "auth-secret", "", "sign with HS256 under this shared secret (the server's --auth-secret)")
	fs.StringVar(&secretFile, "auth-secret-file", "", "sign with HS256 under the secret in this file")
	fs.StringVar(&privateKey, "auth-private-key", "", "sign with EdDSA under this Ed25519 private key (PEM, PKCS #8)")
	fs.StringVar(&name, "name", "", "the client name (sub claim); default: any name")
	fs.StringVar(&sessions, "session", "", "the sessions the client may join (sid claim): ids or path.Match patterns; default: only session-<name>")
	fs.StringVar(&pub, "publish", "", "topic patterns the client may publish, request and send on")
	fs.StringVar(&sub, "subscribe", "", "topic patterns the client may subscribe within (add $meta.> for end-to-end encryption)")
	fs.BoolVar(&service, "service", false, "a backend service: may subscribe across all sessions and publish or reply into any session")
	fs.DurationVar(&ttl, "ttl", time.Hour, "lifetime of the token (exp claim)")
	fs.DurationVar(&notBefore, "not-before", 0, "the token becomes valid this long from now (nbf claim); default: at once")
	fs.StringVar(&issuer, "issuer", "", "iss claim")
	fs.StringVar(&audience, "audience", "", "aud claim")
	fs.StringVar(&id, "id", "", "jti claim")
	fs.BoolVar(&genSecret, "gen-secret", false, "print a new random 256-bit secret for --auth-secret(-file) and exit")
	fs.StringVar(&genKey, "gen-key", "", "write a new Ed25519 private key to this file and its public key to the same path + .pub, and exit")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("token takes no arguments, got %q", fs.Args())}
	}
	switch {
	case genSecret:
		var b [32]byte
		rand.Read(b[:])
		fmt.Fprintln(e.stdout, base64.RawURLEncoding.EncodeToString(b[:]))
		return nil
	case genKey != "":
		return writeKeyPair(genKey, e)
	}
	given := map[string]bool{} // on the command line or in the environment (parseFlags sets both)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	var key any
	switch {
	case privateKey != "" && (secret != "" || secretFile != ""):
		return usageError{"sign with a secret or a private key, not both"}
	case privateKey != "":
		k, err := readPrivateKey(privateKey)
		if err != nil {
			return err
		}
		key = k
	case secret != "" && secretFile != "":
		return usageError{"--auth-secret and --auth-secret-file: give one"}
	case secret != "":
		key = []byte(secret)
	case secretFile != "":
		s, err := readSecretFile(secretFile)
		if err != nil {
			return err
		}
		key = s
	default:
		return usageError{"a signing key is needed: --auth-secret, --auth-secret-file or --auth-private-key"}
	}
	if k, ok := key.([]byte); ok && len(k) < server.MinSecretBytes {
		return usageError{fmt.Sprintf("the secret must have at least %d bytes (switchboard token --gen-secret makes one)", server.MinSecretBytes)}
	}
	if ttl <= 0 {
		return usageError{"--ttl must be positive: tokens without expiry are refused"}
	}

	now := time.Now()
	c := server.TokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   name,
			Issuer:    issuer,
			ID:        id,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(notBefore + ttl)),
		},
		Sessions: splitList(sessions),
		Service:  service,
	}
	if audience != "" {
		c.Audience = jwt.ClaimStrings{audience}
	}
	if notBefore > 0 {
		c.NotBefore = jwt.NewNumericDate(now.Add(notBefore))
	}
	if given["publish"] || given["subscribe"] {
		c.Topics = &server.TopicClaims{}
		if given["publish"] {
			c.Topics.Publish = append([]string{}, splitList(pub)...)
		}
		if given["subscribe"] {
			c.Topics.Subscribe = append([]string{}, splitList(sub)...)
		}
	}
	if err := c.Validate(); err != nil {
		return usageError{err.Error()}
	}
	tok, err := server.MintToken(c, key)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, tok)
	return nil
}

// writeKeyPair writes a new Ed25519 key pair: the private key to path (mode
// 0600) and the public key to path.pub, refusing to overwrite either.
func writeKeyPair(path string, e env) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{{path, "PRIVATE KEY", privDER, 0o600}, {path + ".pub", "PUBLIC KEY", pubDER, 0o644}} {
		w, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return err
		}
		err = pem.Encode(w, &pem.Block{Type: f.typ, Bytes: f.der})
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "wrote %s (private: keep it with whoever mints tokens) and %s.pub (for switchboard serve --auth-public-key)\n", path, path)
	return nil
}
