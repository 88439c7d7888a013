package natsengine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboardhq/switchboard/protocol"
)

// The NATS bridge (docs/bridge.md) joins the sessions' topics to plain NATS
// subjects, so that a NATS service in any language can serve browser
// sessions:
//
//	<bridge>.<enc(S)>.<T>   topic T of session S, both ways
//
// Out: a publish stored in a bridged (S, T) is published there once, by the
// node that stored it, with its seq (Publish, through bridgeOut); a request
// in a bridged (S, T) is published there with a reply subject of this node's
// bridge inbox, whose answers become the requester's response
// (ForwardRequest, through bridgeRequest).
//
// In: one node of the cluster (a queue group) takes each NATS message sent
// to the subject: a publish is stored like any other (and not bridged out
// again), a request reaches S's subscribers on every node through the same
// forwarding as a WebSocket request, with "nats:<reply subject>" as its
// origin node, so that the subscriber's reply goes straight back to the
// NATS requester (ForwardReply).
//
// The bridge's own messages carry the Sb-Node header: the inbound side,
// which subscribes to the same subjects, ignores them.
//
// Since the bridge itself listens on every bridged subject, NATS cannot
// tell whether a NATS service does too: a WebSocket request in a bridged
// topic is never answered no_responders, it times out when nobody answers.

// BridgePublisher is the publisher_name of messages, requests and replies
// that came in over the bridge ("$nats:<name>" when the NATS message names
// one in Sb-Publisher).
const BridgePublisher = "$nats"

// Headers of the bridge, besides Sb-Session, Sb-Publisher, Sb-Time,
// Sb-Timeout-Ms and Sb-Node (engine.go, cluster.go).
const (
	hdrSeq   = "Sb-Seq"      // out: the message's seq
	hdrError = "Sb-Error"    // an error answer to a NATS request: a protocol error code
	hdrMsgID = "Nats-Msg-Id" // in: de-duplicates publishes, as JetStream's does
)

// bridgeNode starts a ForwardReply node that is a NATS reply subject.
const bridgeNode = "nats:"

// bridgeInFlight bounds the inbound requests being forwarded at once; more
// hold back the bridge's subscription.
const bridgeInFlight = 256

// BridgeConfig configures the NATS bridge. Zero values mean the documented
// default.
type BridgeConfig struct {
	// Prefix of the bridged subjects: <Prefix>.<session>.<topic>. Required:
	// NATS tokens of [A-Za-z0-9_:-], not starting with '$' or "_INBOX",
	// and apart from the engine's prefix (neither a prefix of the other).
	Prefix string
	// Sessions bridged: each entry is a session id, or ends in '*' to
	// match every session id that starts with what precedes it ("*":
	// every session). Default every session.
	Sessions []string
	// Topics bridged: protocol patterns ("chat.>", "svc.*"). Default every
	// topic. Reserved ($) topics, $meta. ones included, are never bridged.
	Topics []string
	// MaxPayload is the largest payload taken in from NATS, in bytes.
	// Default protocol.DefaultMaxFrameBytes.
	MaxPayload int
}

// Validate checks c for an engine whose subject prefix is enginePrefix
// (empty: the default).
func (c *BridgeConfig) Validate(enginePrefix string) error {
	if enginePrefix == "" {
		enginePrefix = "switchboard"
	}
	p := c.Prefix
	switch {
	case protocol.ValidateTopic(p) != nil || strings.HasPrefix(p, "$"):
		return fmt.Errorf("natsengine: bridge prefix %q: want NATS tokens of [A-Za-z0-9_:-]", p)
	case p == "_INBOX" || strings.HasPrefix(p, "_INBOX."):
		return fmt.Errorf("natsengine: bridge prefix %q: _INBOX is NATS's reply namespace", p)
	case underPrefix(p, enginePrefix) || underPrefix(enginePrefix, p):
		return fmt.Errorf("natsengine: bridge prefix %q overlaps the engine's subjects (%s.>)", p, enginePrefix)
	}
	for _, s := range c.Sessions {
		if s == "*" {
			continue
		}
		if protocol.ValidateSessionID(strings.TrimSuffix(s, "*")) != nil {
			return fmt.Errorf("natsengine: bridge session %q: want a session id, or the start of one followed by *", s)
		}
	}
	for _, t := range c.Topics {
		if _, err := protocol.ValidatePattern(t); err != nil || protocol.IsReserved(t) {
			return fmt.Errorf("natsengine: bridge topic %q: want a pattern of non-reserved topics", t)
		}
	}
	return nil
}

// underPrefix reports whether subject s is p or under it.
func underPrefix(s, p string) bool { return s == p || strings.HasPrefix(s, p+".") }

// bridge is an engine's bridge; nil when it has none.
type bridge struct {
	cfg   BridgeConfig
	in    string // "<prefix>."
	inbox string // "_INBOX.<nuid>": answers to this node's bridged requests

	mu     sync.Mutex
	closed bool
	subs   []*nats.Subscription
	ctx    context.Context // cancelled by stopBridge
	cancel context.CancelFunc
	wg     sync.WaitGroup // inbound requests being forwarded
	sem    chan struct{}

	dropped atomic.Int64 // inbound messages refused
	warned  atomic.Int64 // unix nanoseconds of the last drop logged at warn
}

func newBridge(cfg BridgeConfig) *bridge {
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = protocol.DefaultMaxFrameBytes
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &bridge{
		cfg:    cfg,
		in:     cfg.Prefix + ".",
		ctx:    ctx,
		cancel: cancel,
		sem:    make(chan struct{}, bridgeInFlight),
	}
}

// bridged reports whether topic of session crosses the bridge.
func (b *bridge) bridged(session, topic string) bool {
	if b == nil || protocol.IsReserved(topic) {
		return false
	}
	return b.sessionOK(session) && b.topicOK(topic)
}

func (b *bridge) sessionOK(session string) bool {
	if len(b.cfg.Sessions) == 0 {
		return true
	}
	for _, s := range b.cfg.Sessions {
		if p, ok := strings.CutSuffix(s, "*"); ok && strings.HasPrefix(session, p) || s == session {
			return true
		}
	}
	return false
}

func (b *bridge) topicOK(topic string) bool {
	if len(b.cfg.Topics) == 0 {
		return true
	}
	for _, p := range b.cfg.Topics {
		if protocol.Match(p, topic) {
			return true
		}
	}
	return false
}

// subject returns the bridged subject of session's topic.
func (b *bridge) subject(session, topic string) string {
	return b.in + encodeSession(session) + "." + topic
}

// parse splits a bridged subject into a valid session id and client topic.
func (b *bridge) parse(subject string) (session, topic string, ok bool) {
	rest, ok := strings.CutPrefix(subject, b.in)
	if !ok {
		return "", "", false
	}
	tok, topic, ok := strings.Cut(rest, ".")
	if !ok {
		return "", "", false
	}
	session, err := decodeSession(tok)
	if err != nil || protocol.ValidateSessionID(session) != nil || protocol.ValidateClientTopic(topic) != nil {
		return "", "", false
	}
	return session, topic, true
}

// startBridge subscribes to the bridged subjects (in a queue group: one
// node takes each message) and to this node's bridge inbox. Called by
// Start, once the sink is known.
func (e *Engine) startBridge() error {
	b := e.br
	b.inbox = e.nc.NewInbox()
	in, err := e.nc.QueueSubscribe(b.in+">", strings.ToLower(e.name)+"_bridge", e.bridgeIn)
	if err != nil {
		return fmt.Errorf("natsengine: bridge: %w", err)
	}
	answers, err := e.nc.Subscribe(b.inbox+".*.*", e.bridgeAnswer)
	if err != nil {
		in.Unsubscribe()
		return fmt.Errorf("natsengine: bridge: %w", err)
	}
	b.mu.Lock()
	b.subs = []*nats.Subscription{in, answers}
	b.mu.Unlock()
	// So that a NATS client connected to this node's server finds the
	// bridge listening once the node has started.
	return e.nc.FlushTimeout(5 * time.Second)
}

// stopBridge ends the subscriptions and waits for the inbound requests
// being forwarded.
func (e *Engine) stopBridge() {
	b := e.br
	if b == nil {
		return
	}
	b.mu.Lock()
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for _, s := range subs {
		s.Unsubscribe()
	}
	b.cancel()
	b.wg.Wait()
}

// bridgeOut returns Publish's done, wrapped to publish m on the bridge once
// it is stored (not again for a duplicate), if its topic is bridged. The
// NATS message is built now: m's payload may not outlive the call.
func (e *Engine) bridgeOut(m *protocol.Message, done func(uint64, bool, error)) func(uint64, bool, error) {
	if !e.br.bridged(m.SessionID, m.Topic) {
		return done
	}
	out := &nats.Msg{
		Subject: e.br.subject(m.SessionID, m.Topic),
		Data:    bytes.Clone(m.Payload),
		Header: nats.Header{
			hdrSession:   {m.SessionID},
			hdrPublisher: {m.PublisherName},
			hdrTime:      {m.Timestamp},
			hdrNode:      {e.node},
		},
	}
	return func(seq uint64, dup bool, err error) {
		if err == nil && !dup {
			out.Header[hdrSeq] = []string{strconv.FormatUint(seq, 10)}
			if err := e.nc.PublishMsg(out); err != nil {
				e.log.Warn("nats bridge: publish", "subject", out.Subject, "err", err)
			}
		}
		done(seq, dup, err)
	}
}

// bridgeRequest publishes a request (b, the encoded request message) of a
// bridged topic to NATS, with a reply subject in this node's bridge inbox,
// and reports whether it did.
func (e *Engine) bridgeRequest(session, topic, replyTo string, b []byte, timeout time.Duration) bool {
	if !e.br.bridged(session, topic) || e.br.inbox == "" || !plainToken(replyTo) {
		return false
	}
	var f protocol.Frame
	if err := protocol.Decode(b, &f); err != nil {
		return false
	}
	msg := &nats.Msg{
		Subject: e.br.subject(session, topic),
		Reply:   e.br.inbox + "." + encodeSession(session) + "." + replyTo,
		Data:    f.Payload,
		Header: nats.Header{
			hdrSession:   {session},
			hdrPublisher: {f.PublisherName},
			hdrTime:      {f.Timestamp},
			hdrTimeout:   {strconv.FormatInt(timeout.Milliseconds(), 10)},
			hdrNode:      {e.node},
		},
	}
	if err := e.nc.PublishMsg(msg); err != nil {
		e.log.Warn("nats bridge: request", "subject", msg.Subject, "err", err)
		return false
	}
	return true
}

// bridgeAnswer takes a NATS service's answer to one of this node's bridged
// requests: the requester's response.
func (e *Engine) bridgeAnswer(msg *nats.Msg) {
	if len(msg.Data) == 0 {
		return // a status (no responders), or nothing to answer with
	}
	rest, ok := strings.CutPrefix(msg.Subject, e.br.inbox+".")
	tok, replyTo, ok2 := strings.Cut(rest, ".")
	session, err := decodeSession(tok)
	if !ok || !ok2 || err != nil {
		return
	}
	payload, why := e.br.payload(msg.Data)
	if why != "" {
		e.bridgeDrop("answer", msg.Subject, why)
		return
	}
	name, ts := sender(msg.Header)
	e.sink.DeliverReply(session, replyTo, payload, name, ts)
}

// bridgeIn takes a NATS message sent to a bridged subject.
func (e *Engine) bridgeIn(msg *nats.Msg) {
	if msg.Header.Get(hdrNode) != "" {
		return // the bridge's own, going out
	}
	b := e.br
	if msg.Reply != "" && !e.replySubjectOK(msg.Reply) {
		e.bridgeDrop("request", msg.Subject, "reply subject in a reserved namespace")
		return
	}
	session, topic, ok := b.parse(msg.Subject)
	if !ok || !b.bridged(session, topic) {
		e.bridgeRefuse(msg, protocol.CodeForbidden, "not a bridged session and topic")
		return
	}
	payload, why := b.payload(msg.Data)
	if why != "" {
		e.bridgeRefuse(msg, protocol.CodeBadRequest, why)
		return
	}
	name, ts := sender(msg.Header)
	m := protocol.Message{Topic: topic, Payload: payload, PublisherName: name, Timestamp: ts, SessionID: session}
	if msg.Reply == "" {
		msgID := ""
		if id := msg.Header.Get(hdrMsgID); id != "" {
			msgID = "nats:" + strconv.Itoa(len(session)) + ":" + session + ":" + id
		}
		e.publish(&m, "", "", msgID, nil, func(_ uint64, _ bool, err error) {
			if err != nil {
				e.log.Warn("nats bridge: store", "subject", msg.Subject, "err", err)
			}
		})
		return
	}
	timeout := protocol.DefaultRequestTimeout
	if ms, err := strconv.ParseInt(msg.Header.Get(hdrTimeout), 10, 64); err == nil && ms > 0 {
		timeout = min(time.Duration(ms)*time.Millisecond, protocol.MaxRequestTimeout)
	}
	m.ReplyTo = newBridgeReplyTo()
	enc := protocol.AppendMessage(nil, &m)
	// Forwarding waits to learn whether any node delivered it: not on the
	// subscription's goroutine, which would hold back every other message.
	select {
	case b.sem <- struct{}{}:
	case <-b.ctx.Done():
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.sem
		return
	}
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		defer func() { <-b.sem }()
		if !e.forwardBridged(session, topic, m.ReplyTo, bridgeNode+msg.Reply, enc, timeout) {
			e.bridgeRefuse(msg, protocol.CodeNoResponders, "no subscriber in the session")
		}
	}()
}

// forwardBridged is ForwardRequest for an inbound request: every node with
// interest, this one included, delivers it to its subscribers, and the
// replies go to node (a bridgeNode). It reports whether one delivered it.
func (e *Engine) forwardBridged(session, topic, replyTo, node string, b []byte, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(e.br.ctx, forwardWait)
	defer cancel()
	msg := requestMsg(e.cfg.Prefix, session, topic, replyTo, node, b, timeout)
	_, err := e.nc.RequestMsgWithContext(ctx, msg)
	return err == nil
}

// bridgeReply answers an inbound NATS request (ForwardReply to a
// bridgeNode).
func (e *Engine) bridgeReply(subject string, payload []byte, name, ts string) {
	if !e.replySubjectOK(subject) {
		return
	}
	msg := &nats.Msg{
		Subject: subject,
		Data:    payload,
		Header:  nats.Header{hdrPublisher: {name}, hdrTime: {ts}},
	}
	if err := e.nc.PublishMsg(msg); err != nil {
		e.log.Warn("nats bridge: reply", "err", err)
	}
}

// replySubjectOK refuses reply subjects in the engine's and the bridge's
// namespaces and in NATS's reserved ones ($JS, $SYS, ...): the engine
// answers with its own permissions, which a NATS requester must not borrow
// to write there.
func (e *Engine) replySubjectOK(s string) bool {
	if s == "" || strings.HasPrefix(s, "$") || underPrefix(s, e.cfg.Prefix) {
		return false
	}
	return e.br == nil || !underPrefix(s, e.br.cfg.Prefix)
}

// bridgeRefuse drops an inbound message; a request hears why (Sb-Error
// with the protocol's error code, and the reason as the payload).
func (e *Engine) bridgeRefuse(msg *nats.Msg, code protocol.Code, why string) {
	if code != protocol.CodeNoResponders {
		e.bridgeDrop("message", msg.Subject, why)
	}
	if msg.Reply == "" {
		return
	}
	ans := &nats.Msg{
		Subject: msg.Reply,
		Data:    []byte(why),
		Header:  nats.Header{hdrError: {string(code)}},
	}
	if err := e.nc.PublishMsg(ans); err != nil {
		e.log.Warn("nats bridge: refuse", "err", err)
	}
}

// bridgeDrop counts a refused inbound message and logs it: at warn at most
// once a second, else at debug.
func (e *Engine) bridgeDrop(what, subject, why string) {
	e.br.dropped.Add(1)
	now := time.Now().UnixNano()
	last := e.br.warned.Load()
	if now-last >= int64(time.Second) && e.br.warned.CompareAndSwap(last, now) {
		e.log.Warn("nats bridge: dropped", "what", what, "subject", subject, "why", why)
		return
	}
	e.log.Debug("nats bridge: dropped", "what", what, "subject", subject, "why", why)
}

// BridgeDropped returns how many inbound NATS messages the bridge refused.
func (e *Engine) BridgeDropped() int64 {
	if e.br == nil {
		return 0
	}
	return e.br.dropped.Load()
}

var errBridgePayload = errors.New("payload is not one JSON value")

// payload checks an inbound payload: one JSON value within the size limit,
// returned compacted (a frame holds no newline). why is empty when it is
// fine.
func (b *bridge) payload(data []byte) (_ []byte, why string) {
	if len(data) > b.cfg.MaxPayload {
		return nil, "payload larger than " + strconv.Itoa(b.cfg.MaxPayload) + " bytes"
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		return nil, errBridgePayload.Error()
	}
	return buf.Bytes(), ""
}

// sender returns the publisher_name and timestamp of an inbound message:
// BridgePublisher, or "$nats:<name>" for a valid name in Sb-Publisher (a
// NATS service never passes for a WebSocket client); Sb-Time when it is
// valid RFC 3339, else now.
func sender(h nats.Header) (name, ts string) {
	name = BridgePublisher
	if n := h.Get(hdrPublisher); n != "" && protocol.ValidateName(n) == nil {
		name = BridgePublisher + ":" + n
	}
	ts = h.Get(hdrTime)
	if ts == "" || protocol.ValidateTimestamp(ts) != nil {
		ts = protocol.FormatTimestamp(time.Now())
	}
	return name, ts
}

// newBridgeReplyTo returns the reply_to of an inbound request, unguessable
// like the hub's.
func newBridgeReplyTo() string {
	var b [15]byte
	rand.Read(b[:])
	return "r_n" + hex.EncodeToString(b[:])
}

// plainToken reports whether s is one NATS token of plain characters.
func plainToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			return false
		}
	}
	return true
}
