package client

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// Failover across several server URLs (Options.URLs; the package
// documentation, "Failover", states the behaviour). The connection
// goroutine alone moves between URLs; Client.cur, under Client.mu, is the
// index of the URL of the current or last connection.

// serverURLs returns the client's server list: raw (when not empty)
// followed by extra, each normalized, duplicates dropped (the first kept).
func serverURLs(raw string, extra []string) ([]string, error) {
	all := make([]string, 0, 1+len(extra))
	if raw != "" {
		all = append(all, raw)
	}
	all = append(all, extra...)
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: no server URL (Dial's url and Options.URLs are both empty)", ErrInvalidURL)
	}
	urls := make([]string, 0, len(all))
	for _, r := range all {
		u, err := normalizeURL(r)
		if err != nil {
			return nil, err
		}
		dup := false
		for _, v := range urls {
			dup = dup || v == u
		}
		if !dup {
			urls = append(urls, u)
		}
	}
	return urls, nil
}

// URL returns the server URL (normalized: ws:// or wss://, with its path)
// of the current connection; between connections, that of the last one.
// With several URLs (Options.URLs) it shows where failover took the client.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.urls[c.cur]
}

// dialFirst makes the first connection for Dial: each URL once, in order,
// without waiting in between, until one connects. A refusal that would
// stop a reconnect (reconnectPolicy: unauthorized, forbidden, HTTP 401 or
// 403, a terminal close code) stops it too: the nodes of one deployment
// share their configuration, so the next would refuse as well.
func (c *Client) dialFirst(ctx context.Context) (cn *conn, w *protocol.Frame, rest []byte, idx int, err error) {
	var errs urlErrors
	for i, u := range c.urls {
		cn, w, rest, err = c.connect(ctx, u)
		if err == nil {
			return cn, w, rest, i, nil
		}
		errs = append(errs, &urlError{url: u, err: err})
		if retry, _ := reconnectPolicy(err); !retry || ctx.Err() != nil {
			break
		}
	}
	if len(c.urls) == 1 {
		return nil, nil, nil, 0, wrap("dial "+c.urls[0], err)
	}
	return nil, nil, nil, 0, wrap("dial", errs)
}

// attempt plans reconnect attempt k (0 for the first after a connection to
// URL last was lost): it goes to the k+1-th URL after last in rotation, so
// that every round of len(urls) attempts tries each URL once, the lost one
// last. The first attempt of round k/len(urls) waits that round's backoff;
// the others follow a failure at once.
func (c *Client) attempt(last, k int, long bool) (idx int, wait time.Duration) {
	n := len(c.urls)
	idx = (last + 1 + k) % n
	if k%n == 0 {
		wait = c.opts.backoff(k/n, long)
	}
	return idx, wait
}

// urlError is a failed connection attempt to one URL.
type urlError struct {
	url string
	err error
}

func (e *urlError) Error() string {
	return e.url + ": " + strings.TrimPrefix(e.err.Error(), "client: ")
}

func (e *urlError) Unwrap() error { return e.err }

// urlErrors are the failures of a round over several URLs, in the order
// tried. errors.Is and errors.As see each of them.
type urlErrors []error

func (e urlErrors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

func (e urlErrors) Unwrap() []error { return e }
