package client

// Logger receives the client's diagnostics: a *slog.Logger implements it.
// The client itself does not import log/slog, which keeps the js/wasm
// binary smaller. args are alternating keys and values, as in log/slog.
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}

// nopLogger is the default Logger.
type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
