package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchboardhq/switchboard/protocol"
)

// The admin API in cluster mode answers for the whole cluster: lists are
// gathered from every node (natsengine.Gather), and send, disconnect and
// broadcast reach a client wherever it is connected. Each client carries
// the id of the node it is connected to.

// NodeInfo describes a node of the cluster (GET /api/v1/cluster).
type NodeInfo struct {
	ID       string    `json:"id"`
	Addr     string    `json:"addr,omitempty"` // the HTTP/WebSocket listen address
	NATS     string    `json:"nats,omitempty"` // the embedded NATS server's client URL
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`
	Clients  int       `json:"clients"`
	Sessions int       `json:"sessions"`
	Self     bool      `json:"self,omitempty"`
}

// NodeClient is a client with the node it is connected to.
type NodeClient struct {
	ClientInfo
	Node string `json:"node,omitempty"`
}

// NodeSession is a session as the whole cluster sees it.
type NodeSession struct {
	SessionID string       `json:"session_id"`
	Clients   []NodeClient `json:"clients"`
	Topics    []TopicInfo  `json:"topics"`
}

// adminArgs is the argument of an operator query between nodes.
type adminArgs struct {
	SessionID string          `json:"session_id,omitempty"`
	ClientID  string          `json:"client_id,omitempty"`
	Topic     string          `json:"topic,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

// adminResult is a node's answer to send, disconnect and broadcast.
type adminResult struct {
	Done      bool `json:"done"`
	Delivered int  `json:"delivered"`
}

// startClusterAdmin announces this node and answers the other nodes'
// operator queries.
func (s *Server) startClusterAdmin() error {
	if s.engine == nil {
		return nil
	}
	return s.engine.StartAdmin(s.nodeInfoJSON, s.answerAdmin)
}

// nodeInfo describes this node (id "single" without a cluster).
func (s *Server) nodeInfo() NodeInfo {
	st := s.hub.Stats()
	n := NodeInfo{ID: "single", Version: s.cfg.Version, Started: s.started, Clients: st.Connections, Sessions: st.Sessions}
	if s.engine != nil {
		n.ID, n.NATS = s.engine.NodeID(), s.engine.ClientURL()
	}
	if a := s.listenAddr.Load(); a != nil {
		n.Addr = *a
	}
	return n
}

func (s *Server) nodeInfoJSON() json.RawMessage {
	b, _ := json.Marshal(s.nodeInfo())
	return b
}

// answerAdmin answers another node's (or this node's own) operator query
// from this node's hub alone.
func (s *Server) answerAdmin(op string, body []byte) []byte {
	var a adminArgs
	if err := json.Unmarshal(body, &a); err != nil {
		return []byte("null")
	}
	var v any
	switch op {
	case "clients":
		v = s.hub.Clients(a.SessionID)
	case "sessions":
		v = s.hub.Sessions()
	case "presence":
		v, _ = s.hub.LocalPresence(a.SessionID, a.Topic)
	case "send":
		err := s.hub.SendToClient(a.ClientID, a.Topic, a.Payload)
		v = adminResult{Done: err == nil, Delivered: btoi(err == nil)}
	case "disconnect":
		err := s.hub.Disconnect(a.ClientID, protocol.CloseKicked)
		v = adminResult{Done: err == nil}
	case "broadcast":
		n, err := s.hub.Broadcast(a.Topic, a.Payload)
		v = adminResult{Done: err == nil, Delivered: n}
	default:
		return []byte("null")
	}
	b, _ := json.Marshal(v)
	return b
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// gather asks every node op and decodes each answer into a new T.
func gather[T any](ctx context.Context, s *Server, op string, a adminArgs) (map[string]T, error) {
	body, _ := json.Marshal(a)
	answers, err := s.engine.Gather(ctx, op, body)
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(answers))
	for _, an := range answers {
		var v T
		if json.Unmarshal(an.Data, &v) == nil {
			out[an.Node] = v
		}
	}
	return out, nil
}

var errCluster = apiErr(http.StatusServiceUnavailable, protocol.CodeInternal, "the cluster did not answer")

// clusterClients lists the clients of every node (of one session, if given).
func (s *Server) clusterClients(ctx context.Context, sessionID string) ([]NodeClient, error) {
	per, err := gather[[]ClientInfo](ctx, s, "clients", adminArgs{SessionID: sessionID})
	if err != nil {
		return nil, errCluster
	}
	out := []NodeClient{}
	for node, cs := range per {
		for _, c := range cs {
			out = append(out, NodeClient{ClientInfo: c, Node: node})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].SessionID != out[j].SessionID {
			return out[i].SessionID < out[j].SessionID
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ClientID < out[j].ClientID
	})
	return out, nil
}

// clusterSessions merges the nodes' views of their sessions: clients side
// by side, a topic's subscribers summed and its latest seq the highest.
func (s *Server) clusterSessions(ctx context.Context) ([]NodeSession, error) {
	per, err := gather[[]SessionInfo](ctx, s, "sessions", adminArgs{})
	if err != nil {
		return nil, errCluster
	}
	byID := map[string]*NodeSession{}
	topics := map[string]map[string]*TopicInfo{}
	for node, ss := range per {
		for _, si := range ss {
			ns := byID[si.SessionID]
			if ns == nil {
				ns = &NodeSession{SessionID: si.SessionID, Clients: []NodeClient{}}
				byID[si.SessionID] = ns
				topics[si.SessionID] = map[string]*TopicInfo{}
			}
			for _, c := range si.Clients {
				ns.Clients = append(ns.Clients, NodeClient{ClientInfo: c, Node: node})
			}
			for _, t := range si.Topics {
				ti := topics[si.SessionID][t.Topic]
				if ti == nil {
					t := t
					topics[si.SessionID][t.Topic] = &t
					continue
				}
				ti.Subscribers += t.Subscribers
				ti.Seq = max(ti.Seq, t.Seq)
				ti.Retained = ti.Retained || t.Retained
				ti.History = max(ti.History, t.History)
			}
		}
	}
	out := make([]NodeSession, 0, len(byID))
	for id, ns := range byID {
		ns.Topics = []TopicInfo{}
		for _, t := range topics[id] {
			ns.Topics = append(ns.Topics, *t)
		}
		sort.Slice(ns.Topics, func(i, j int) bool { return ns.Topics[i].Topic < ns.Topics[j].Topic })
		sort.Slice(ns.Clients, func(i, j int) bool { return ns.Clients[i].ClientID < ns.Clients[j].ClientID })
		out = append(out, *ns)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SessionID < out[j].SessionID })
	return out, nil
}

// clusterReach runs op (send, disconnect) on whichever node has the client,
// after this node's hub said it has not.
func (s *Server) clusterReach(ctx context.Context, op string, a adminArgs) error {
	per, err := gather[adminResult](ctx, s, op, a)
	if err != nil {
		return errCluster
	}
	for _, r := range per {
		if r.Done {
			return nil
		}
	}
	return ErrNotFound
}

// clusterBroadcast broadcasts on every node.
func (s *Server) clusterBroadcast(ctx context.Context, topic string, payload []byte) (int, error) {
	if err := protocol.ValidateTopic(topic); err != nil {
		return 0, err
	}
	per, err := gather[adminResult](ctx, s, "broadcast", adminArgs{Topic: topic, Payload: payload})
	if err != nil {
		return 0, errCluster
	}
	n := 0
	for _, r := range per {
		n += r.Delivered
	}
	return n, nil
}

// handleCluster serves GET /api/v1/cluster: this node and, in cluster
// mode, every node heard of.
func (s *Server) handleCluster(c echo.Context) error {
	if s.engine == nil {
		n := s.nodeInfo()
		n.Self = true
		return c.JSON(http.StatusOK, map[string]any{"mode": "single", "node": n.ID, "nodes": []NodeInfo{n}})
	}
	nodes := []NodeInfo{}
	self := s.engine.NodeID()
	for _, n := range s.engine.Nodes() {
		var ni NodeInfo
		if json.Unmarshal(n.Info, &ni) != nil {
			continue
		}
		ni.ID, ni.Self = n.ID, n.ID == self
		nodes = append(nodes, ni)
	}
	return c.JSON(http.StatusOK, map[string]any{"mode": "cluster", "node": self, "epoch": s.engine.Epoch(), "nodes": nodes})
}

// isNotFound reports the operator API's not-found error.
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
