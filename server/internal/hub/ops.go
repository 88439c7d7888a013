package hub

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/protocol"
)

func perr(code protocol.Code, msg string) *protocol.Error {
	return &protocol.Error{Code: code, Message: msg}
}

var (
	errNotReady   = perr(protocol.CodeNotReady, "send hello first")
	errNeedID     = perr(protocol.CodeBadRequest, "id required")
	errNeedTopic  = perr(protocol.CodeBadRequest, "topic required")
	errNeedPay    = perr(protocol.CodeBadRequest, "payload required")
	errForeign    = perr(protocol.CodeForbidden, "session_id differs from the connection's session")
	errNeedIfSeq  = perr(protocol.CodeBadRequest, "if_seq required for $meta. topics")
	errSinceWild  = perr(protocol.CodeBadRequest, "since is allowed only for topics without wildcards")
	errPresWild   = perr(protocol.CodeBadRequest, "presence is available only for topics without wildcards")
	errIDReused   = perr(protocol.CodeConflict, "this id was used by a recent publish to another topic")
	errNoSub      = perr(protocol.CodeNotFound, "not subscribed")
	errTooManySub = perr(protocol.CodeTooLarge, "too many subscriptions")
	errTooManyReq = perr(protocol.CodeTooLarge, "too many pending requests")
	errNoResp     = perr(protocol.CodeNoResponders, "no responders")
	errTimeout    = perr(protocol.CodeTimeout, "request timed out")
	errNoReplyTo  = perr(protocol.CodeNotFound, "unknown or expired reply_to")
	errNeedRTo    = perr(protocol.CodeBadRequest, "reply_to required")
	errNeedTo     = perr(protocol.CodeBadRequest, "to required")
	errNoClient   = perr(protocol.CodeNotFound, "no such client in this session")
	errShutdown   = perr(protocol.CodeInternal, "server shutting down")
)

// idErr validates an optional object id.
func idErr(id string) *protocol.Error {
	if id != "" && protocol.ValidateID(id) != nil {
		return perr(protocol.CodeBadRequest, protocol.ErrInvalidID.Error())
	}
	return nil
}

// needID validates a required object id.
func needID(id string) *protocol.Error {
	if id == "" {
		return errNeedID
	}
	return idErr(id)
}

// topicErr checks a concrete topic a client addresses. A reserved topic
// other than $meta. is well-formed but not the client's to use, so it gets
// forbidden; anything malformed, or a wildcard, gets bad_request.
func topicErr(topic string) *protocol.Error {
	if topic == "" {
		return errNeedTopic
	}
	err := protocol.ValidateClientTopic(topic)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, protocol.ErrReservedTopic):
		return perr(protocol.CodeForbidden, err.Error())
	}
	return perr(protocol.CodeBadRequest, err.Error())
}

// patternErr checks a subscription pattern like topicErr.
func patternErr(pattern string) (wildcard bool, _ *protocol.Error) {
	if pattern == "" {
		return false, errNeedTopic
	}
	wild, err := protocol.ValidatePattern(pattern)
	switch {
	case err == nil:
		return wild, nil
	case errors.Is(err, protocol.ErrReservedTopic):
		return false, perr(protocol.CodeForbidden, err.Error())
	}
	return false, perr(protocol.CodeBadRequest, err.Error())
}

// stamp returns the timestamp to put on a message: the client's when it is
// valid RFC 3339, else the server's receive time.
func stamp(given string, now time.Time) string {
	if given != "" && protocol.ValidateTimestamp(given) == nil {
		return given
	}
	return serverStamp(now)
}

// stampCache holds the last formatted server timestamp: at high publish
// rates many messages share one millisecond, and formatting is a good part
// of a publish's cost.
type stampCache struct {
	ms int64
	s  string
}

var lastStamp atomic.Pointer[stampCache]

// serverStamp formats now like protocol.FormatTimestamp.
func serverStamp(now time.Time) string {
	ms := now.UnixMilli()
	if p := lastStamp.Load(); p != nil && p.ms == ms {
		return p.s
	}
	s := protocol.FormatTimestamp(now)
	lastStamp.Store(&stampCache{ms: ms, s: s})
	return s
}

// encodeMessage encodes m into a buffer of about the right size.
func encodeMessage(m *protocol.Message) []byte {
	n := 112 + len(m.Topic) + len(m.Payload) + len(m.PublisherName) + len(m.Timestamp) +
		len(m.SessionID) + len(m.ReplyTo) + len(m.From)
	return protocol.AppendMessage(make([]byte, 0, n), m)
}

func ack(c *Conn, a *protocol.Ack) {
	c.Enqueue(protocol.AppendAck(make([]byte, 0, 48+len(a.ID)+len(a.Epoch)), a))
}

// Handle serves one object from a welcomed client: it performs the
// operation, queues the answers to c (ack, pong, response, messages), and on
// failure queues an error carrying the object's id. It returns that error
// (a *protocol.Error) so that the transport can count violations, or nil.
// hello is the transport's business and is not handled here.
func (h *Hub) Handle(c *Conn, f *protocol.Frame) error {
	var err *protocol.Error
	switch f.Type {
	case protocol.TypeSubscribe:
		if f.AllSessions {
			err = h.subscribeAll(c, f)
		} else {
			err = h.subscribe(c, f.ID, f.Topic, f.Since, f.Presence)
		}
	case protocol.TypePresence:
		if err = c.mayReceive(f.Topic); err == nil {
			err = h.presence(c, f)
		}
	case protocol.TypeUnsubscribe:
		if f.AllSessions {
			err = h.unsubscribeAll(c, f)
		} else {
			err = h.unsubscribe(c, f.ID, f.Topic)
		}
	case protocol.TypePublish:
		_, err = h.publish(c, f)
	case protocol.TypeRequest:
		err = h.request(c, f)
	case protocol.TypeReply:
		err = h.reply(c, f)
		if err == errNoReplyTo && f.ID == "" {
			// A late reply is normal when several responders race; only a
			// reply that asked for an answer (an id) hears about it.
			return err
		}
	case protocol.TypeSend:
		err = h.send(c, f)
	case protocol.TypePing:
		if err = idErr(f.ID); err == nil {
			c.Enqueue(protocol.AppendPong(make([]byte, 0, 24+len(f.ID)), f.ID))
		}
	default:
		err = perr(protocol.CodeUnsupported, "unsupported type "+strconv.Quote(truncate(f.Type, 32)))
	}
	if err == nil {
		return nil
	}
	id := f.ID
	if protocol.ValidateID(id) != nil {
		id = ""
	}
	c.Enqueue(protocol.AppendError(nil, id, err.Code, err.Message))
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// asError returns err as an error interface, nil when it is nil (so that a
// nil *protocol.Error never becomes a non-nil error).
func asError(err *protocol.Error) error {
	if err == nil {
		return nil
	}
	return err
}

// Subscribe subscribes c to pattern and queues the ack (for a topic without
// wildcards with the stream's epoch and latest seq; with since, whether the
// missed messages are recovered), then the recovered messages, then the
// retained $meta. values the pattern matches. Re-subscribing to the same
// pattern is acknowledged again (and recovers again with since).
func (h *Hub) Subscribe(c *Conn, id, pattern string, since *protocol.Since) error {
	return asError(h.subscribe(c, id, pattern, since, false))
}

func (h *Hub) subscribe(c *Conn, id, pattern string, since *protocol.Since, presence bool) *protocol.Error {
	if err := needID(id); err != nil {
		return err
	}
	wild, err := patternErr(pattern)
	if err != nil {
		return err
	}
	if since != nil && wild {
		return errSinceWild
	}
	if presence && wild {
		return errPresWild
	}
	if err := c.mayReceive(pattern); err != nil {
		return err
	}
	if !c.live.Load() {
		return errNotReady
	}
	now := time.Now()
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := c.subs[pattern]
	if sb == nil && len(c.subs)+len(c.sec.svc) >= h.opts.MaxSubscriptions {
		return errTooManySub
	}
	a := protocol.Ack{ID: id}
	var replay []Entry
	if !wild {
		st := s.stream(pattern, true, now)
		a.HasSeq, a.Seq, a.Epoch = true, st.seq, st.epoch
		if since != nil {
			var ok bool
			if h.eng != nil {
				ok, a.Reason, replay = s.recoverEngine(st, c, since)
			} else {
				ok, a.Reason, replay = s.recover(st, c, since, now)
			}
			a.Recovered = &ok
		}
	}
	// The snapshot, the ack and the replay are queued and the subscription
	// registered under s.mu, which every publish to the topic takes: live
	// messages follow the replay with no gap and no duplicate.
	if sb == nil {
		sb = &sub{conn: c, pattern: pattern}
		s.attach(sb, wild, now)
	}
	if !wild && sb.presence != presence {
		sb.presence = presence
		if presence {
			sb.st.watchers++
		} else {
			sb.st.watchers--
		}
		s.presenceWatchers(sb.st) // cluster_presence.go
	}
	ack(c, &a)
	for i := range replay {
		c.Enqueue(replay[i].Data)
	}
	// Retained values: only $meta. patterns can match $meta. topics.
	if protocol.IsMeta(pattern) {
		if !wild {
			// (A replay of a $meta. topic is its retained value already.)
			if b := sb.st.retained; b != nil && len(replay) == 0 {
				c.Enqueue(b)
			}
		} else {
			for topic, st := range s.streams {
				if st.retained != nil && protocol.Match(pattern, topic) {
					c.Enqueue(st.retained)
				}
			}
		}
	}
	return nil
}

// Unsubscribe removes c's subscription to pattern and queues the ack;
// not_found when c has none.
func (h *Hub) Unsubscribe(c *Conn, id, pattern string) error {
	return asError(h.unsubscribe(c, id, pattern))
}

func (h *Hub) unsubscribe(c *Conn, id, pattern string) *protocol.Error {
	if err := needID(id); err != nil {
		return err
	}
	if _, err := patternErr(pattern); err != nil {
		return err
	}
	if !c.live.Load() {
		return errNotReady
	}
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := c.subs[pattern]
	if sb == nil {
		return errNoSub
	}
	s.detach(sb, time.Now())
	ack(c, &protocol.Ack{ID: id})
	return nil
}

// Publish publishes f (a publish object) from c into c's session and
// returns the message's seq. publisher_name and session_id are c's; the
// timestamp is f's when valid, else now. A $meta. topic needs if_seq equal to
// the current seq (compare-and-set); other topics honour if_seq when given.
// With an id, the ack (with seq) is queued to c.
func (h *Hub) Publish(c *Conn, f *protocol.Frame) (uint64, error) {
	seq, err := h.publish(c, f)
	return seq, asError(err)
}

func (h *Hub) publish(c *Conn, f *protocol.Frame) (uint64, *protocol.Error) {
	if err := idErr(f.ID); err != nil {
		return 0, err
	}
	if err := topicErr(f.Topic); err != nil {
		return 0, err
	}
	if !c.live.Load() {
		return 0, errNotReady
	}
	if err := c.checkTarget(f.SessionID); err != nil {
		return 0, err
	}
	if err := c.maySend(f.Topic); err != nil {
		return 0, err
	}
	if len(f.Payload) == 0 {
		return 0, errNeedPay
	}
	meta := protocol.IsMeta(f.Topic)
	if meta && f.IfSeq == nil {
		return 0, errNeedIfSeq
	}
	now := time.Now()
	m := protocol.Message{
		Topic:         f.Topic,
		Payload:       f.Payload,
		PublisherName: c.name,
		Timestamp:     stamp(f.Timestamp, now),
		SessionID:     c.targetID(f.SessionID),
	}
	if h.eng != nil {
		return 0, h.publishEngine(c, f, &m)
	}
	dedup := f.ID != "" && c.instance != ""
	s := h.lockTarget(c, f.SessionID, true) // its own session, or the one a service names
	st := s.stream(f.Topic, true, now)
	if dedup {
		// Checked before if_seq: the retry of a compare-and-set publish
		// that was stored hears of its success, not of a conflict.
		if rec, ok := s.dedupLookup(c.instance, f.ID, now.UnixNano()); ok {
			if rec.topic != f.Topic {
				s.mu.Unlock()
				return 0, errIDReused
			}
			s.ackStored(c, st, &protocol.Ack{ID: f.ID, HasSeq: true, Seq: rec.seq, Duplicate: true})
			s.mu.Unlock()
			return rec.seq, nil
		}
	}
	if f.IfSeq != nil && *f.IfSeq != st.seq {
		cur := st.seq
		s.dropIfIdle(st)
		s.mu.Unlock()
		return 0, perr(protocol.CodeConflict, "if_seq "+strconv.FormatUint(*f.IfSeq, 10)+
			" does not match the current seq "+strconv.FormatUint(cur, 10))
	}
	st.seq++
	st.lastUsed = now
	m.Seq = st.seq
	b := encodeMessage(&m)
	if meta {
		st.retained = b
	}
	s.charge(st, st.hist.Append(Entry{Seq: m.Seq, Time: now.UnixNano(), Data: b, Origin: c.instance, ID: f.ID}))
	n := s.fanout(st, f.Topic, b, c)
	if h.watched() {
		h.observe(KindPublish, &m, n, s.shard, now)
	}
	if f.ID != "" {
		if dedup {
			s.dedupRecord(c.instance, f.ID, f.Topic, m.Seq, now.UnixNano())
		}
		// In history and queued to every subscriber: acknowledged (once
		// durable, with a durable store).
		s.ackStored(c, st, &protocol.Ack{ID: f.ID, HasSeq: true, Seq: m.Seq})
	}
	s.mu.Unlock()
	return m.Seq, nil
}

// Request delivers f's payload as a message with a fresh reply_to (and no
// seq) to the subscribers of f's topic in c's session, and waits for the
// first reply: it becomes a response to c; after timeout_ms (default 5000,
// at most 60000: larger values are clamped) c gets a timeout error. Without
// subscribers c gets no_responders.
func (h *Hub) Request(c *Conn, f *protocol.Frame) error {
	return asError(h.request(c, f))
}

func (h *Hub) request(c *Conn, f *protocol.Frame) *protocol.Error {
	if err := needID(f.ID); err != nil {
		return err
	}
	if err := c.checkOutgoing(f); err != nil {
		return err
	}
	timeout := protocol.DefaultRequestTimeout
	if f.TimeoutMS > 0 {
		timeout = min(time.Duration(f.TimeoutMS)*time.Millisecond, protocol.MaxRequestTimeout)
	}
	now := time.Now()
	replyTo := newReplyTo()
	m := protocol.Message{
		Topic:         f.Topic,
		Payload:       f.Payload,
		PublisherName: c.name,
		Timestamp:     stamp(f.Timestamp, now),
		SessionID:     c.session,
		ReplyTo:       replyTo,
	}
	b := encodeMessage(&m)
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.closed.Load() {
		return errShutdown // Close has stopped the timers, or is about to
	}
	if len(c.pending) >= h.opts.MaxPendingRequests {
		return errTooManyReq
	}
	n := s.fanout(s.streams[f.Topic], f.Topic, b, c)
	if n == 0 && h.eng == nil {
		return errNoResp
	}
	if h.watched() {
		h.observe(KindRequest, &m, n, s.shard, now)
	}
	p := &pending{replyTo: replyTo, id: f.ID, requester: c, start: now}
	s.requests[replyTo] = p
	if c.pending == nil {
		c.pending = make(map[string]*pending)
	}
	c.pending[replyTo] = p
	p.timer = time.AfterFunc(timeout, func() { h.expire(s, p) })
	if h.eng != nil {
		return h.forwardRequest(s, c, p, f.Topic, b, timeout, n) // cluster.go
	}
	return nil
}

// expire ends a request that got no reply in time.
func (h *Hub) expire(s *session, p *pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests[p.replyTo] != p {
		return // answered or cancelled meanwhile
	}
	delete(s.requests, p.replyTo)
	delete(p.requester.pending, p.replyTo)
	s.m.observeTimeout()
	p.requester.Enqueue(protocol.AppendError(nil, p.id, errTimeout.Code, errTimeout.Message))
}

// Reply answers a request of c's session: the first reply becomes the
// requester's response; a reply_to that is unknown in c's session (expired,
// already answered, or another session's) gets not_found.
func (h *Hub) Reply(c *Conn, f *protocol.Frame) error {
	return asError(h.reply(c, f))
}

func (h *Hub) reply(c *Conn, f *protocol.Frame) *protocol.Error {
	if err := idErr(f.ID); err != nil {
		return err
	}
	if f.ReplyTo == "" {
		return errNeedRTo
	}
	if !c.live.Load() {
		return errNotReady
	}
	if len(f.Payload) == 0 {
		return errNeedPay
	}
	if err := c.checkTarget(f.SessionID); err != nil {
		return err
	}
	now := time.Now()
	ts := stamp(f.Timestamp, now)
	// Its own session's request, or for a service the one of the session
	// its session_id names (the request message's session_id).
	s := h.lockTarget(c, f.SessionID, false)
	if s == nil {
		return errNoReplyTo
	}
	defer s.mu.Unlock()
	p := s.requests[f.ReplyTo]
	if p == nil {
		if h.eng == nil || !h.replyRemote(s, f.ReplyTo, f.Payload, c.name, ts, now) {
			return errNoReplyTo
		}
	} else {
		s.answer(p, f.Payload, c.name, ts, now)
	}
	if f.ID != "" {
		ack(c, &protocol.Ack{ID: f.ID})
	}
	return nil
}

// answer makes a reply p's response. Called with s.mu held.
func (s *session) answer(p *pending, payload []byte, name, ts string, now time.Time) {
	p.timer.Stop()
	s.m.observeRequest(now.Sub(p.start))
	delete(s.requests, p.replyTo)
	delete(p.requester.pending, p.replyTo)
	n := 96 + len(p.id) + len(payload) + len(name) + len(ts)
	p.requester.Enqueue(protocol.AppendResponse(make([]byte, 0, n), p.id, payload, name, ts))
}

// Send delivers a message (with from = c's client id, no seq) to the client
// f.To of c's session, subscribed or not; not_found for any other client id.
func (h *Hub) Send(c *Conn, f *protocol.Frame) error {
	return asError(h.send(c, f))
}

func (h *Hub) send(c *Conn, f *protocol.Frame) *protocol.Error {
	if err := idErr(f.ID); err != nil {
		return err
	}
	if f.To == "" {
		return errNeedTo
	}
	if err := c.checkOutgoing(f); err != nil {
		return err
	}
	now := time.Now()
	m := protocol.Message{
		Topic:         f.Topic,
		Payload:       f.Payload,
		PublisherName: c.name,
		Timestamp:     stamp(f.Timestamp, now),
		SessionID:     c.session,
		From:          c.id,
	}
	b := encodeMessage(&m)
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	to := s.members[f.To]
	switch {
	case to != nil:
		if !to.Enqueue(b) {
			return errNoClient
		}
	case h.eng != nil && plainToken(f.To):
		// Perhaps connected to another node (cluster.go).
		s.mu.Unlock()
		ok := h.eng.ForwardSend(s.id, f.To, b)
		s.mu.Lock()
		if !ok {
			return errNoClient
		}
	default:
		return errNoClient
	}
	if h.watched() {
		h.observe(KindSend, &m, 1, s.shard, now)
	}
	if f.ID != "" {
		ack(c, &protocol.Ack{ID: f.ID})
	}
	return nil
}

// checkOutgoing is what a request and a send have in common: a valid
// concrete topic, a welcomed connection, no foreign session_id, a topic the
// connection's token lets it send to, and a payload.
func (c *Conn) checkOutgoing(f *protocol.Frame) *protocol.Error {
	if err := topicErr(f.Topic); err != nil {
		return err
	}
	if !c.live.Load() {
		return errNotReady
	}
	if f.SessionID != "" && f.SessionID != c.session {
		return errForeign
	}
	if err := c.maySend(f.Topic); err != nil {
		return err
	}
	if len(f.Payload) == 0 {
		return errNeedPay
	}
	return nil
}
