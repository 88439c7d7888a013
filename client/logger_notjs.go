//go:build !js

package client

import "log/slog"

var _ Logger = (*slog.Logger)(nil)

// noLogger reports whether l selects the default: nil, or a nil
// *slog.Logger (Options.Logger was a *slog.Logger, whose nil meant the
// default too).
func noLogger(l Logger) bool {
	p, ok := l.(*slog.Logger)
	return l == nil || ok && p == nil
}
