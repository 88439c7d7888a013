//go:build !js

package client

import (
	"crypto/tls"
	"net/http"
)

// TLSConfig is crypto/tls's Config (Options.TLSConfig).
type TLSConfig = tls.Config

// httpClientFor returns the HTTP client for a handshake: the shared one, or
// with Options.TLSConfig one of its own, whose idle connections the caller
// closes after the handshake (the WebSocket's connection is not idle: it
// has been taken over).
func httpClientFor(o *Options) *http.Client {
	if o.TLSConfig == nil {
		return httpClient
	}
	tr := httpTransport.Clone()
	tr.TLSClientConfig = o.TLSConfig.Clone()
	return &http.Client{Transport: tr}
}
