package server

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// Event stream limits.
const (
	eventBuffer     = 256     // message events waiting for one stream; more are dropped
	eventBatch      = 64      // message events written (and flushed) at once
	previewChars    = 200     // characters of a payload in a message event
	e2ePrefix       = `"e2e:` // how an end-to-end encrypted payload starts (PROTOCOL.md)
	ndjsonMediaType = "application/x-ndjson"
)

// The events of GET /api/v1/events, one JSON object per line (see doc.go).
type (
	statsEvent struct {
		Type           string  `json:"type"` // "stats"
		Time           string  `json:"time"`
		Connections    int     `json:"connections"`
		Sessions       int     `json:"sessions"`
		MsgsInPerSec   float64 `json:"msgs_in_per_sec"`
		MsgsOutPerSec  float64 `json:"msgs_out_per_sec"`
		BytesInPerSec  float64 `json:"bytes_in_per_sec"`
		BytesOutPerSec float64 `json:"bytes_out_per_sec"`
	}
	messageEvent struct {
		Type          string `json:"type"` // "message"
		Kind          string `json:"kind"`
		SessionID     string `json:"session_id,omitempty"` // absent for a broadcast
		Topic         string `json:"topic"`
		PublisherName string `json:"publisher_name"`
		Seq           uint64 `json:"seq,omitempty"`
		Timestamp     string `json:"timestamp"`
		Size          int    `json:"size"`
		Delivered     int    `json:"delivered"`
		Preview       string `json:"preview"`
		Truncated     bool   `json:"truncated,omitempty"`
		Encrypted     bool   `json:"encrypted"`
	}
	countEvent struct {
		Type  string `json:"type"` // "dropped" or "sampled"
		Count uint64 `json:"count"`
		Limit int    `json:"limit,omitempty"` // sampled: message events per second
	}
)

// handleEvents streams live events to the dashboard as newline-delimited
// JSON: message events from a hub monitor, stats every second (which also
// keeps the stream alive), and counts of what was sampled out or dropped.
// The request's own goroutine does all the work; it ends when the client
// goes, when a write fails or stalls for WriteTimeout, and when the server
// starts shutting down.
func (s *Server) handleEvents(c echo.Context) error {
	if s.draining.Load() {
		return apiErr(http.StatusServiceUnavailable, protocol.CodeInternal, "server shutting down")
	}
	mon := s.hub.Monitor(hub.MonitorOptions{Rate: s.cfg.EventRate, Buffer: eventBuffer})
	defer mon.Close()

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, ndjsonMediaType)
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	h.Set("X-Accel-Buffering", "no") // proxies such as nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{}) // the connection may serve further requests
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	send := func() bool {
		rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		return err == nil && rc.Flush() == nil
	}
	if !send() { // the headers: the dashboard knows the stream is open
		return nil
	}

	ticker := time.NewTicker(s.cfg.statsEvery)
	defer ticker.Stop()
	last, lastAt := s.hub.Stats(), time.Now()
	done := c.Request().Context().Done()
	for {
		select {
		case <-done:
			return nil
		case <-s.quit:
			return nil
		case ev := <-mon.Events():
			enc.Encode(newMessageEvent(ev))
		more:
			for range eventBatch - 1 {
				select {
				case ev := <-mon.Events():
					enc.Encode(newMessageEvent(ev))
				default:
					break more
				}
			}
		case now := <-ticker.C:
			if n := mon.TakeDropped(); n > 0 {
				enc.Encode(countEvent{Type: "dropped", Count: n})
			}
			if n := mon.TakeSkipped(); n > 0 {
				enc.Encode(countEvent{Type: "sampled", Count: n, Limit: s.cfg.EventRate})
			}
			st := s.hub.Stats()
			secs := now.Sub(lastAt).Seconds()
			enc.Encode(statsEvent{
				Type:           "stats",
				Time:           protocol.FormatTimestamp(now),
				Connections:    st.Connections,
				Sessions:       st.Sessions,
				MsgsInPerSec:   rate(st.MsgsIn-last.MsgsIn, secs),
				MsgsOutPerSec:  rate(st.MsgsOut-last.MsgsOut, secs),
				BytesInPerSec:  rate(st.BytesIn-last.BytesIn, secs),
				BytesOutPerSec: rate(st.BytesOut-last.BytesOut, secs),
			})
			last, lastAt = st, now
		}
		if !send() {
			return nil
		}
	}
}

// rate is n per second over secs, to one decimal.
func rate(n uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return math.Round(float64(n)/secs*10) / 10
}

func newMessageEvent(ev *hub.MonitorEvent) messageEvent {
	preview, truncated := previewOf(ev.Preview, ev.Size)
	return messageEvent{
		Type:          "message",
		Kind:          ev.Kind,
		SessionID:     ev.SessionID,
		Topic:         ev.Topic,
		PublisherName: ev.PublisherName,
		Seq:           ev.Seq,
		Timestamp:     ev.Timestamp,
		Size:          ev.Size,
		Delivered:     ev.Delivered,
		Preview:       preview,
		Truncated:     truncated,
		// The server cannot read an encrypted payload; it only recognizes
		// the envelope's form.
		Encrypted: bytes.HasPrefix(ev.Preview, []byte(e2ePrefix)),
	}
}

// previewOf returns the first previewChars characters of a payload of size
// bytes that begins with b, followed by "…" when it is longer.
func previewOf(b []byte, size int) (string, bool) {
	end := 0
	for range previewChars {
		if end >= len(b) {
			break
		}
		_, n := utf8.DecodeRune(b[end:])
		end += n
	}
	if end >= size {
		return string(b[:end]), false
	}
	return string(b[:end]) + "…", true
}
