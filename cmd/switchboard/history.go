package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// runHistory reads a topic's history through the admin API
// (GET /api/v1/sessions/{session_id}/history).
func runHistory(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("history", "history [flags] TOPIC\n\nPrints the messages a session's topic keeps in its history (the admin API's\nGET /api/v1/sessions/{session}/history): the latest --limit, or with --since\nthose after that seq, oldest first, one per line: seq, time, publisher and\npayload (encrypted payloads print as e2e:…, the server cannot open them).", e)
	server := fs.String("server", "http://localhost:8080", "the server's HTTP address (http:// or https://; a ws:// URL is accepted too)")
	token := fs.String("admin-token", "", "the admin API token (required)")
	session := fs.String("session", "", "session id (required)")
	since := fs.String("since", "", "print the messages after this seq, oldest first (default: the latest)")
	limit := fs.Int("limit", 0, "at most this many messages (default: all the history holds, up to 10000)")
	raw := fs.Bool("json", false, "print the answer as the API's JSON (epoch, seq, first_seq, messages)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the server")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError{"history takes one TOPIC"}
	}
	if *session == "" || *token == "" {
		return usageError{"history needs --session and --admin-token (or SWITCHBOARD_SESSION, SWITCHBOARD_ADMIN_TOKEN)"}
	}
	u, err := historyURL(*server, *session, fs.Arg(0), *since, *limit)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+*token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var apiErr struct{ Code, Message string }
		if json.Unmarshal(body, &apiErr) == nil && apiErr.Code != "" {
			return fmt.Errorf("history: %s: %s", apiErr.Code, apiErr.Message)
		}
		return fmt.Errorf("history: HTTP %d", resp.StatusCode)
	}
	if *raw {
		_, err := e.stdout.Write(append(body, '\n'))
		return err
	}
	var page struct {
		Epoch    string            `json:"epoch"`
		Seq      uint64            `json:"seq"`
		FirstSeq uint64            `json:"first_seq"`
		More     bool              `json:"more"`
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("history: unexpected answer: %w", err)
	}
	fmt.Fprintf(e.stderr, "%s in session %s: epoch %s, latest seq %d, kept from seq %d, %d shown\n",
		fs.Arg(0), *session, page.Epoch, page.Seq, page.FirstSeq, len(page.Messages))
	for _, m := range page.Messages {
		var msg struct {
			Seq           uint64          `json:"seq"`
			Timestamp     string          `json:"timestamp"`
			PublisherName string          `json:"publisher_name"`
			Payload       json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(m, &msg); err != nil {
			return fmt.Errorf("history: unexpected message: %w", err)
		}
		fmt.Fprintf(e.stdout, "%d %s %s: ", msg.Seq, msg.Timestamp, msg.PublisherName)
		printPayload(e.stdout, msg.Payload)
	}
	if page.More {
		fmt.Fprintln(e.stderr, "(more: raise --limit, or page with --since)")
	}
	return nil
}

// historyURL builds the admin API URL of a topic's history.
func historyURL(server, session, topic, since string, limit int) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", usageError{fmt.Sprintf("--server %q: want http://host:port", server)}
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		u.Scheme = "http"
	case "https", "wss":
		u.Scheme = "https"
	default:
		return "", usageError{fmt.Sprintf("--server %q: want http:// or https://", server)}
	}
	u.Path = "/api/v1/sessions/" + url.PathEscape(session) + "/history"
	q := url.Values{"topic": {topic}}
	if since != "" {
		if _, err := strconv.ParseUint(since, 10, 64); err != nil {
			return "", usageError{fmt.Sprintf("--since %q: want a seq", since)}
		}
		q.Set("since", since)
	}
	if limit < 0 {
		return "", usageError{"--limit must be positive"}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
