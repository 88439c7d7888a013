//go:build js && wasm

package main

import (
	"errors"

	"github.com/hack-pad/safejs"

	"github.com/switchboardhq/switchboard/client"
)

// End-to-end encryption: ConnectOptions' passphrase, secret and signed map
// to client.Options.E2E. The crypto is the client's (and so the seal
// package's): nothing is sealed or opened here.

// e2eConfig is what ConnectOptions says about encryption.
type e2eConfig struct {
	passphrase, secret string
	signed             bool
}

func (e e2eConfig) enabled() bool { return e.passphrase != "" || e.secret != "" }

// validate checks the combination before anything is dialled.
func (e e2eConfig) validate() error {
	switch {
	case e.passphrase != "" && e.secret != "":
		return &codeError{code: codeBadRequest, msg: "switchboard: set passphrase or secret, not both"}
	case e.signed && !e.enabled():
		return &codeError{code: codeBadRequest, msg: "switchboard: signed needs a passphrase or a secret"}
	}
	return nil
}

// applyE2E sets o.E2E. Dial then reads or creates the session's parameters
// ($meta.e2e) and fails with an error wrapping seal.ErrWrongKey when the
// passphrase or secret does not match.
func applyE2E(o *client.Options, e e2eConfig) error {
	if e.enabled() {
		o.E2E = &client.E2E{Passphrase: e.passphrase, Secret: e.secret, Signed: e.signed}
	}
	return nil
}

// clientEncrypted is Client.encrypted.
func clientEncrypted(c *client.Client) bool { return c.Encrypted() }

// messageEncrypted is Message.encrypted.
func messageEncrypted(m *client.Message) bool { return m.Encrypted }

// e2eCodes are the client's end-to-end errors that are not the seal
// package's (errorCode checks these after the seal sentinels).
var e2eCodes = []struct {
	err  error
	code string
}{
	{client.ErrPlaintext, "plaintext"},
	{client.ErrInvalidE2E, codeBadRequest},
	{client.ErrUnknownRequest, codeBadRequest},
}

// decorateOpenError adds where a message that failed to open came from to
// its SwitchboardError: topic, publisherName and, when it has one, seq.
func decorateOpenError(e safejs.Value, err error) {
	var oe *client.OpenError
	if !errors.As(err, &oe) {
		return
	}
	_ = setAll(e, "topic", oe.Topic, "publisherName", oe.PublisherName)
	if oe.Seq != 0 {
		_ = e.Set("seq", float64(oe.Seq))
	}
}
