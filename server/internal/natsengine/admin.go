package natsengine

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/server/internal/hub"
)

// The operator's view of the cluster. Every node announces itself on
// <prefix>.nodes every HeartbeatEvery; a node not heard of for three
// periods is gone. Operator queries are scattered on <prefix>.admin.<op>
// to every node and their answers gathered (Gather): clients, sessions,
// presence, send, disconnect and broadcast wherever a client is.

// HeartbeatEvery is how often a node announces itself.
const HeartbeatEvery = time.Second

// gatherWait bounds how long Gather waits for the nodes' answers.
const gatherWait = time.Second

// AdminHandler answers an operator query on this node: op names it, body
// is its JSON argument; the answer is JSON.
type AdminHandler func(op string, body []byte) []byte

// nodeEntry is a node as last announced.
type nodeEntry struct {
	info json.RawMessage
	seen time.Time
}

// admin is the engine's operator side.
type admin struct {
	mu    sync.Mutex
	nodes map[string]nodeEntry // node id → its latest announcement
	subs  []*nats.Subscription
	stop  chan struct{}
	done  chan struct{}
}

// StartAdmin announces this node (info is called for each announcement and
// returns the node's description, a JSON object) and answers operator
// queries with handle. Close stops it.
func (e *Engine) StartAdmin(info func() json.RawMessage, handle AdminHandler) error {
	a := &e.admin
	a.nodes = make(map[string]nodeEntry)
	a.stop, a.done = make(chan struct{}), make(chan struct{})
	hb, err := e.nc.Subscribe(e.cfg.Prefix+".nodes", func(msg *nats.Msg) {
		id := msg.Header.Get(hdrNode)
		if id == "" || !json.Valid(msg.Data) {
			return
		}
		a.mu.Lock()
		if len(msg.Data) == 0 || msg.Header.Get("Sb-Gone") != "" {
			delete(a.nodes, id)
		} else {
			a.nodes[id] = nodeEntry{info: append(json.RawMessage(nil), msg.Data...), seen: time.Now()}
		}
		a.mu.Unlock()
	})
	if err != nil {
		return err
	}
	q, err := e.nc.Subscribe(e.cfg.Prefix+".admin.*", func(msg *nats.Msg) {
		op := msg.Subject[len(e.cfg.Prefix)+len(".admin."):]
		resp := nats.NewMsg(msg.Reply)
		resp.Header.Set(hdrNode, e.node)
		resp.Data = handle(op, msg.Data)
		msg.RespondMsg(resp)
	})
	if err != nil {
		hb.Unsubscribe()
		return err
	}
	a.subs = []*nats.Subscription{hb, q}
	announce := func(gone bool) {
		m := nats.NewMsg(e.cfg.Prefix + ".nodes")
		m.Header.Set(hdrNode, e.node)
		if gone {
			m.Header.Set("Sb-Gone", "1")
			m.Data = []byte("{}")
		} else {
			m.Data = info()
		}
		e.nc.PublishMsg(m)
	}
	announce(false)
	go func() {
		defer close(a.done)
		t := time.NewTicker(HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-a.stop:
				announce(true)
				e.nc.Flush()
				return
			case <-t.C:
				announce(false)
			}
		}
	}()
	return nil
}

// stopAdmin ends StartAdmin's work; called by Close.
func (e *Engine) stopAdmin() {
	a := &e.admin
	if a.stop == nil {
		return
	}
	close(a.stop)
	<-a.done
	for _, s := range a.subs {
		s.Unsubscribe()
	}
}

// Node is a node of the cluster as it announced itself.
type Node struct {
	ID   string          `json:"id"`
	Info json.RawMessage `json:"info"`
}

// Nodes returns the nodes heard of within three heartbeats, by id.
func (e *Engine) Nodes() []Node {
	a := &e.admin
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Node, 0, len(a.nodes))
	for id, n := range a.nodes {
		if time.Since(n.seen) > 3*HeartbeatEvery {
			delete(a.nodes, id)
			continue
		}
		out = append(out, Node{ID: id, Info: n.info})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Answer is one node's answer to Gather.
type Answer struct {
	Node string
	Data []byte
}

// Gather asks every node (this one included) op with body and returns the
// answers: it waits until every node Nodes knows of has answered, at most a
// second (a node that started less than a heartbeat ago may be missed).
func (e *Engine) Gather(ctx context.Context, op string, body []byte) ([]Answer, error) {
	want := map[string]bool{}
	for _, n := range e.Nodes() {
		want[n.ID] = true
	}
	inbox := e.nc.NewInbox()
	sub, err := e.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := e.nc.PublishRequest(e.cfg.Prefix+".admin."+op, inbox, body); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, gatherWait)
	defer cancel()
	var out []Answer
	seen := map[string]bool{}
	for len(want) > 0 {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			break // the deadline: whoever answered
		}
		id := msg.Header.Get(hdrNode)
		if seen[id] {
			continue
		}
		seen[id] = true
		delete(want, id)
		out = append(out, Answer{Node: id, Data: msg.Data})
	}
	return out, nil
}

// Presence lists topic's subscribers in session on every node (their
// LocalPresence, through the "presence" operator query).
func (e *Engine) Presence(ctx context.Context, session, topic string) ([]protocol.PresenceClient, error) {
	body, _ := json.Marshal(map[string]string{"session_id": session, "topic": topic})
	answers, err := e.Gather(ctx, "presence", body)
	if err != nil {
		return nil, err
	}
	var lists [][]protocol.PresenceClient
	for _, a := range answers {
		var l []protocol.PresenceClient
		if json.Unmarshal(a.Data, &l) == nil {
			lists = append(lists, l)
		}
	}
	return hub.MergePresence(lists...), nil
}
