//go:build !js

package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/protocol"
)

// httpTransport dials WebSocket handshakes over HTTP/1.1 (an upgrade cannot
// go over HTTP/2). Its idle connections are closed after a failed handshake,
// so that a refused dial leaves no goroutine behind.
var httpTransport = &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout: 10 * time.Second,
}

var httpClient = &http.Client{Transport: httpTransport}

// wsTransport is the native transport over github.com/coder/websocket.
type wsTransport struct {
	c            *websocket.Conn
	writeTimeout time.Duration
}

var _ transport = (*wsTransport)(nil)

func dialTransport(ctx context.Context, url string, o *Options) (transport, error) {
	hc := httpClientFor(o) // tls_notjs.go
	if hc != httpClient {
		defer hc.CloseIdleConnections()
	}
	opts := &websocket.DialOptions{
		HTTPClient:   hc,
		HTTPHeader:   http.Header(o.Header),
		Subprotocols: []string{protocol.Subprotocol},
	}
	if o.Compression {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	c, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		httpTransport.CloseIdleConnections()
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &statusError{status: resp.StatusCode, err: err}
		}
		return nil, err
	}
	c.SetReadLimit(o.ReadLimit)
	return &wsTransport{c: c, writeTimeout: o.WriteTimeout}, nil
}

func (t *wsTransport) Read(ctx context.Context) ([]byte, error) {
	_, p, err := t.c.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return nil, &CloseError{Code: protocol.CloseCode(ce.Code), Reason: ce.Reason}
		}
		return nil, err
	}
	return p, nil
}

func (t *wsTransport) Write(ctx context.Context, p []byte) error {
	ctx, cancel := context.WithTimeout(ctx, t.writeTimeout)
	defer cancel()
	return t.c.Write(ctx, websocket.MessageText, p)
}

func (t *wsTransport) SetReadLimit(n int64) { t.c.SetReadLimit(n) }

func (t *wsTransport) Close(code int, reason string) error {
	return t.c.Close(websocket.StatusCode(code), reason)
}

func (t *wsTransport) Abort() { _ = t.c.CloseNow() }
