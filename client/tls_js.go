//go:build js

package client

// TLSConfig is ignored in browsers (Options.TLSConfig): their own TLS
// settings and certificate stores apply. It exists so that Options is the
// same type on both platforms; the js/wasm build does not link crypto/tls.
type TLSConfig struct{}
