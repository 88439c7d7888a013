package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// ErrToken wraps an error of Options.TokenFunc.
var ErrToken = errors.New("client: token")

// token returns the token for a new connection: from TokenFunc when set,
// else Options.Token.
func (c *Client) token(ctx context.Context) (string, error) {
	if c.opts.TokenFunc == nil {
		return c.opts.Token, nil
	}
	tok, err := c.opts.TokenFunc(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrToken, err)
	}
	return tok, nil
}

// renewable reports whether a connection lost with err should be tried
// again although its close code is terminal: with TokenFunc, a token that
// expired during the connection (4401) is replaced by a fresh one. A fresh
// token refused at hello stays terminal.
func (c *Client) renewable(err error) bool {
	return c.opts.TokenFunc != nil && errors.Is(err, &CloseError{Code: protocol.CloseUnauthorized})
}

// tokenExpiry reads the exp claim of a JWT without verifying it (the
// server does): the client only needs to know when to refresh. Zero when
// the token is not a JWT or has no exp.
func tokenExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return time.Time{}
	}
	secs, err := claims.Exp.Float64()
	if err != nil || secs <= 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(secs*1e9))
}

// refreshLead is how long before expiry a token is replaced: a quarter of
// its remaining life, at least 5 s, but never more than half of it.
func refreshLead(remaining time.Duration) time.Duration {
	return min(max(remaining/4, 5*time.Second), remaining/2)
}

// startRefreshLocked starts the goroutine that keeps cn's token fresh, when
// TokenFunc is set and the token carries an expiry.
func (c *Client) startRefreshLocked(cn *conn) {
	if c.opts.TokenFunc == nil {
		return
	}
	exp := tokenExpiry(cn.token)
	if exp.IsZero() {
		return
	}
	c.wg.Add(1)
	go c.refresher(cn, exp)
}

// refresher sends a fresh token (a refresh object) before the current one
// expires, for as long as cn is the connection. A failure is reported to
// OnError and tried again; if the token expires all the same, the server
// closes with 4401 and the client reconnects with a new one.
func (c *Client) refresher(cn *conn, exp time.Time) {
	defer c.wg.Done()
	ctx := c.ctx
	// sleep waits d; false when cn or the client ended meanwhile.
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-cn.stop:
			return false
		case <-t.C:
			return true
		}
	}
	issued := time.Now()
	for {
		remaining := time.Until(exp)
		wait := remaining - refreshLead(exp.Sub(issued))
		if wait > 0 && !sleep(wait) {
			return
		}
		// Bounded by CallTimeout; a refresh that a lost connection
		// leaves unanswered is harmless: the next hello carries a new token.
		next, err := c.refreshOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-cn.stop:
			return
		default:
		}
		if err != nil {
			c.reportError(wrap("refresh token", err))
			if time.Until(exp) <= 0 {
				return // the server closes the connection now
			}
			// Try again in a little while, while the token lasts.
			if !sleep(min(max(time.Until(exp)/4, 100*time.Millisecond), 5*time.Second)) {
				return
			}
			continue // at once: the token is within its lead time
		}
		if next.IsZero() {
			return
		}
		issued, exp = time.Now(), next
	}
}

// refreshOnce gets a token from TokenFunc and sends it; it returns the new
// token's expiry.
func (c *Client) refreshOnce(ctx context.Context) (time.Time, error) {
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	tok, err := c.token(cctx)
	if err != nil {
		return time.Time{}, err
	}
	if _, err := c.roundTrip(cctx, &protocol.Frame{Type: protocol.TypeRefresh, Token: tok}); err != nil {
		return time.Time{}, err
	}
	return tokenExpiry(tok), nil
}
