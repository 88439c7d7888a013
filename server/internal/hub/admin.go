package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

// The privileged operations below are the operator's (the admin HTTP API and
// programs embedding the server). They are the only way to reach across
// sessions; they are never reachable from a client connection.

// ClientInfo describes a connected client.
type ClientInfo struct {
	ClientID      string    `json:"client_id"`
	Name          string    `json:"name"`
	SessionID     string    `json:"session_id"`
	RemoteAddr    string    `json:"remote_addr"`
	ConnectedAt   time.Time `json:"connected_at"`
	Subscriptions []string  `json:"subscriptions"`
	MsgsIn        uint64    `json:"msgs_in"`
	MsgsOut       uint64    `json:"msgs_out"`
	BytesIn       uint64    `json:"bytes_in"`
	BytesOut      uint64    `json:"bytes_out"`
	QueuedBytes   int       `json:"queued_bytes"`
}

// TopicInfo describes a topic or wildcard pattern of a session.
type TopicInfo struct {
	Topic       string `json:"topic"`
	Subscribers int    `json:"subscribers"`
	Seq         uint64 `json:"seq"`                // latest seq (0 for patterns)
	Epoch       string `json:"epoch,omitempty"`    // absent for patterns
	Wildcard    bool   `json:"wildcard,omitempty"` // a pattern, not a topic
	Retained    bool   `json:"retained,omitempty"` // holds a $meta. value
	History     int    `json:"history,omitempty"`  // messages kept in its history
}

// SessionInfo describes a session.
type SessionInfo struct {
	SessionID string       `json:"session_id"`
	Clients   []ClientInfo `json:"clients"`
	Topics    []TopicInfo  `json:"topics"`
}

// Operator errors.
var (
	ErrNotFound = errors.New("hub: no such client")
	ErrPayload  = errors.New("hub: payload must be one JSON value")
)

// info describes c. Called with c.sess.mu held.
func (c *Conn) info() ClientInfo {
	subs := make([]string, 0, len(c.subs))
	for p := range c.subs {
		subs = append(subs, p)
	}
	slices.Sort(subs)
	return ClientInfo{
		ClientID:      c.id,
		Name:          c.name,
		SessionID:     c.session,
		RemoteAddr:    c.remote,
		ConnectedAt:   c.connectedAt,
		Subscriptions: subs,
		MsgsIn:        c.msgsIn.Load(),
		MsgsOut:       c.msgsOut.Load(),
		BytesIn:       c.bytesIn.Load(),
		BytesOut:      c.bytesOut.Load(),
		QueuedBytes:   c.QueuedBytes(),
	}
}

func sortClients(cs []ClientInfo) {
	slices.SortFunc(cs, func(a, b ClientInfo) int {
		if c := a.ConnectedAt.Compare(b.ConnectedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
}

func (s *session) clients() []ClientInfo {
	out := make([]ClientInfo, 0, len(s.members))
	for _, c := range s.members {
		out = append(out, c.info())
	}
	return out
}

// Clients lists the connected (welcomed) clients of sessionID, or of every
// session when it is empty, oldest first.
func (h *Hub) Clients(sessionID string) []ClientInfo {
	var out []ClientInfo
	if sessionID != "" {
		if s := h.lockSession(sessionID, false); s != nil {
			out = s.clients()
			s.mu.Unlock()
		}
	} else {
		for _, s := range h.allSessions() {
			s.mu.Lock()
			out = append(out, s.clients()...)
			s.mu.Unlock()
		}
	}
	if out == nil {
		out = []ClientInfo{}
	}
	sortClients(out)
	return out
}

// Sessions lists every session with its clients and its topics and patterns
// (with subscriber counts), sorted by session id.
func (h *Hub) Sessions() []SessionInfo {
	out := []SessionInfo{}
	for _, s := range h.allSessions() {
		s.mu.Lock()
		if s.dead {
			s.mu.Unlock()
			continue
		}
		si := SessionInfo{SessionID: s.id, Clients: s.clients(), Topics: []TopicInfo{}}
		for topic, st := range s.streams {
			si.Topics = append(si.Topics, TopicInfo{Topic: topic, Subscribers: len(st.subs),
				Seq: st.seq, Epoch: st.epoch, Retained: st.retained != nil, History: st.hist.Len()})
		}
		for _, g := range s.wild {
			si.Topics = append(si.Topics, TopicInfo{Topic: g.pattern, Subscribers: len(g.subs), Wildcard: true})
		}
		s.mu.Unlock()
		sortClients(si.Clients)
		slices.SortFunc(si.Topics, func(a, b TopicInfo) int { return strings.Compare(a.Topic, b.Topic) })
		out = append(out, si)
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.SessionID, b.SessionID) })
	return out
}

// normalize checks that p is one JSON value and returns it compacted (so it
// holds no newline) in a buffer of its own.
func normalize(p []byte) ([]byte, error) {
	if len(bytes.TrimSpace(p)) == 0 || !json.Valid(p) {
		return nil, ErrPayload
	}
	var b bytes.Buffer
	b.Grow(len(p))
	if err := json.Compact(&b, p); err != nil {
		return nil, ErrPayload
	}
	return b.Bytes(), nil
}

// publisherName validates an operator-chosen publisher name: empty means
// protocol.ServerPublisher; otherwise a valid client name, optionally with a
// leading '$' (which no client can have).
func publisherName(name string) (string, error) {
	if name == "" {
		return protocol.ServerPublisher, nil
	}
	if err := protocol.ValidateName(strings.TrimPrefix(name, "$")); err != nil {
		return "", err
	}
	return name, nil
}

// PublishToSession publishes payload on topic in session sessionID as the
// operator (publisherName, default "$server"): it gets the next seq and
// reaches the session's subscribers. Any valid topic is allowed, reserved
// ones included; a $meta. topic's retained value is replaced without
// compare-and-set. It returns the seq and the number of connections reached.
func (h *Hub) PublishToSession(sessionID, topic string, payload []byte, publisher string) (seq uint64, delivered int, err error) {
	if err := protocol.ValidateSessionID(sessionID); err != nil {
		return 0, 0, err
	}
	if err := protocol.ValidateTopic(topic); err != nil {
		return 0, 0, err
	}
	name, err := publisherName(publisher)
	if err != nil {
		return 0, 0, err
	}
	if payload, err = normalize(payload); err != nil {
		return 0, 0, err
	}
	if h.closed.Load() {
		return 0, 0, ErrClosed
	}
	now := time.Now()
	m := protocol.Message{Topic: topic, Payload: payload, PublisherName: name,
		Timestamp: serverStamp(now), SessionID: sessionID}
	if h.eng != nil {
		return h.publishToSessionEngine(&m)
	}
	s := h.lockSession(sessionID, true)
	defer s.mu.Unlock()
	st := s.stream(topic, true, now)
	st.seq++
	st.lastUsed = now
	m.Seq = st.seq
	b := encodeMessage(&m)
	if protocol.IsMeta(topic) {
		st.retained = b
	}
	s.charge(st, st.hist.Append(Entry{Seq: m.Seq, Time: now.UnixNano(), Data: b}))
	n := s.fanout(st, topic, b, nil)
	if h.watched() {
		h.observe(KindPublish, &m, n, s.shard, now)
	}
	return m.Seq, n, nil
}

// SendToClient delivers payload on topic to one client, subscribed or not,
// as "$server" (no seq, no from). ErrNotFound when no such client is
// connected.
func (h *Hub) SendToClient(clientID, topic string, payload []byte) error {
	if err := protocol.ValidateTopic(topic); err != nil {
		return err
	}
	payload, err := normalize(payload)
	if err != nil {
		return err
	}
	c := h.conn(clientID)
	if c == nil {
		return ErrNotFound
	}
	now := time.Now()
	m := protocol.Message{Topic: topic, Payload: payload, PublisherName: protocol.ServerPublisher,
		Timestamp: serverStamp(now), SessionID: c.session}
	b := encodeMessage(&m)
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[c.id] != c || !c.Enqueue(b) {
		return ErrNotFound
	}
	if h.watched() {
		h.observe(KindSend, &m, 1, s.shard, now)
	}
	return nil
}

// Broadcast delivers payload on topic to every connected client of every
// session, subscribed or not, as "$server" (no seq). Each session gets its
// own encoding, carrying its session_id. It returns the number of clients
// reached.
func (h *Hub) Broadcast(topic string, payload []byte) (int, error) {
	if err := protocol.ValidateTopic(topic); err != nil {
		return 0, err
	}
	payload, err := normalize(payload)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	m := protocol.Message{Topic: topic, Payload: payload, PublisherName: protocol.ServerPublisher,
		Timestamp: serverStamp(now)}
	n := 0
	for _, s := range h.allSessions() {
		s.mu.Lock()
		if len(s.members) > 0 {
			m.SessionID = s.id
			b := encodeMessage(&m)
			for _, c := range s.members {
				if c.Enqueue(b) {
					n++
				}
			}
		}
		s.mu.Unlock()
	}
	if h.watched() {
		m.SessionID = ""
		h.observe(KindBroadcast, &m, n, 0, now)
	}
	return n, nil
}

// Disconnect closes a client's connection with code (default
// protocol.CloseKicked, 4003). ErrNotFound when no such client is connected.
func (h *Hub) Disconnect(clientID string, code protocol.CloseCode) error {
	c := h.conn(clientID)
	if c == nil {
		return ErrNotFound
	}
	if code == 0 {
		code = protocol.CloseKicked
	}
	c.Close(code, "disconnected by operator")
	return nil
}
