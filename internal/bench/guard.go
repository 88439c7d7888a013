package bench

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ErrNotLoopback reports a target outside this machine: the load tool only
// ever talks to loopback addresses (127.0.0.0/8, ::1, localhost).
var ErrNotLoopback = errors.New("bench: only loopback targets are allowed (127.0.0.0/8, ::1, localhost)")

// IsLoopbackHost reports whether host (no port) is localhost or a loopback IP.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback() && ip.Zone() == ""
}

// CheckURL parses a WebSocket URL (ws, wss, http or https) and refuses any
// whose host is not loopback.
func CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bench: url %q: %w", raw, err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return nil, fmt.Errorf("bench: url %q: scheme must be ws, wss, http or https", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("bench: url %q: no host", raw)
	}
	if !IsLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("%w: url %q", ErrNotLoopback, raw)
	}
	return u, nil
}

// CheckListenAddr refuses a listen address that is not loopback (an empty
// host would listen on every interface).
func CheckListenAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bench: listen address %q: %w", addr, err)
	}
	if !IsLoopbackHost(host) {
		return fmt.Errorf("%w: listen address %q", ErrNotLoopback, addr)
	}
	return nil
}
