package server

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
	"github.com/switchboardhq/switchboard/server/internal/store/bolt"
)

// Delivery: history, recovery, publish de-duplication and presence live in
// the hub; this file wires their storage (Config.DataDir), validates their
// configuration, and serves them to operators (admin API and Go methods).

// Types of the delivery API.
type (
	// HistoryRule sets the history limits of the topics matching Pattern.
	HistoryRule = hub.HistoryRule
	// HistoryPage is a slice of a topic's history (GET …/history).
	HistoryPage = hub.HistoryPage
	// HistoryQuery selects messages of a topic's history.
	HistoryQuery = hub.HistoryQuery
	// PresenceClient is one subscriber of a topic.
	PresenceClient = protocol.PresenceClient
)

// ErrNoTopic: the session has no such topic (never used, or expired).
var ErrNoTopic = hub.ErrNoTopic

// HistoryFile is the file in Config.DataDir that keeps the histories.
const HistoryFile = "history.db"

func (c *Config) historyDefaults() error {
	for _, r := range c.History {
		if _, err := protocol.ValidatePattern(r.Pattern); err != nil {
			return fmt.Errorf("%w: history rule pattern %q: %v", ErrConfig, r.Pattern, err)
		}
	}
	if c.HistoryBytes <= 0 {
		c.HistoryBytes = hub.DefaultHistoryBytes
	}
	return nil
}

// historyStore is the hub's HistoryStore and what closes it.
type historyStore struct {
	store hub.HistoryStore
	bolt  *bolt.Store // nil in memory
}

// openHistory opens the durable store in cfg.DataDir, or returns the
// in-memory one.
func openHistory(cfg Config) (*historyStore, error) {
	if cfg.DataDir == "" || cfg.Cluster != nil { // (a cluster's history is in JetStream)
		return &historyStore{store: hub.MemoryStore{}}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	b, err := bolt.Open(filepath.Join(cfg.DataDir, HistoryFile), bolt.Options{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	return &historyStore{store: b, bolt: b}, nil
}

// close flushes and closes a durable store.
func (h *historyStore) close() error {
	if h == nil || h.bolt == nil {
		return nil
	}
	return h.bolt.Close()
}

// History reads a topic's history in a session: the latest q.Limit
// messages, or with q.Since those after it, oldest first. ErrNoTopic when
// the session has no such topic.
func (s *Server) History(sessionID, topic string, q HistoryQuery) (*HistoryPage, error) {
	return s.hub.History(sessionID, topic, q)
}

// Presence lists the clients subscribed to topic in a session (not through
// a wildcard): empty when none.
func (s *Server) Presence(sessionID, topic string) ([]PresenceClient, error) {
	return s.hub.Presence(sessionID, topic)
}

// handleHistory serves GET /api/v1/sessions/:session_id/history?topic=T[&since=N][&limit=M].
func (s *Server) handleHistory(c echo.Context) error {
	topic := c.QueryParam("topic")
	if topic == "" {
		return apiErr(http.StatusBadRequest, protocol.CodeBadRequest, "topic required")
	}
	var q HistoryQuery
	if v := c.QueryParam("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return apiErr(http.StatusBadRequest, protocol.CodeBadRequest, "since must be a seq (a whole number)")
		}
		q.Since = &n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hub.MaxHistoryLimit {
			return apiErr(http.StatusBadRequest, protocol.CodeBadRequest, fmt.Sprintf("limit must be 1-%d", hub.MaxHistoryLimit))
		}
		q.Limit = n
	}
	p, err := s.hub.History(c.Param("session_id"), topic, q)
	if errors.Is(err, ErrNoTopic) {
		return apiErr(http.StatusNotFound, protocol.CodeNotFound, "no such topic in this session")
	}
	if err != nil {
		return opErr(err)
	}
	return c.JSON(http.StatusOK, p)
}

// handlePresence serves GET /api/v1/sessions/:session_id/topics/:topic/presence.
func (s *Server) handlePresence(c echo.Context) error {
	sid, topic := c.Param("session_id"), c.Param("topic")
	list, err := s.hub.Presence(sid, topic)
	if err != nil {
		return opErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"session_id": sid, "topic": topic, "clients": list})
}
