package client

import "context"

// transport is one WebSocket connection, behind which the platforms differ:
// coder/websocket natively (transport_notjs.go), the browser's WebSocket
// through safejs under js/wasm (transport_js.go). The client logic above it
// is one code base.
//
// Read is called from one goroutine at a time, Write from one goroutine at a
// time; Close and Abort may be called concurrently with both and with each
// other, any number of times.
type transport interface {
	// Read returns the next message. When the peer closed the connection
	// with a close frame, the error is a *CloseError.
	Read(ctx context.Context) ([]byte, error)
	// Write sends p as one text message.
	Write(ctx context.Context, p []byte) error
	// SetReadLimit sets the largest message Read accepts.
	SetReadLimit(n int64)
	// Close performs the closing handshake with code and reason, bounded in
	// time, and releases the connection.
	Close(code int, reason string) error
	// Abort releases the connection at once, without a handshake.
	Abort()
}

// dialTransport (one per platform) opens a transport to url, offering the
// subprotocol switchboard.v1:
//
//	func dialTransport(ctx context.Context, url string, o *Options) (transport, error)
