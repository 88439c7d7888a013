//go:build js

package client

// noLogger reports whether l selects the default. Under js/wasm the client
// leaves log/slog out (about 43 KB of brotli-compressed binary), so only a
// nil interface is recognised.
func noLogger(l Logger) bool { return l == nil }
