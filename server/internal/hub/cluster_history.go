package hub

import (
	"context"
	"encoding/json"
	"math"
)

// historyEngine is History in cluster mode: the engine's store has it.
func (h *Hub) historyEngine(sessionID, topic string, q HistoryQuery, limit int) (*HistoryPage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	msgs, _, err := h.eng.Replay(ctx, sessionID, topic, 0, math.MaxUint64)
	if err != nil {
		return nil, errUnavailable
	}
	if len(msgs) == 0 {
		return nil, ErrNoTopic
	}
	p := &HistoryPage{SessionID: sessionID, Topic: topic, Epoch: h.eng.Epoch(),
		Seq: msgs[len(msgs)-1].Msg.Seq, FirstSeq: msgs[0].Msg.Seq, Messages: []json.RawMessage{}}
	if q.Since != nil {
		i := 0
		for i < len(msgs) && msgs[i].Msg.Seq <= *q.Since {
			i++
		}
		msgs = msgs[i:]
	}
	msgs, p.More = page(msgs, q, limit)
	for i := range msgs {
		p.Messages = append(p.Messages, json.RawMessage(encodeMessage(&msgs[i].Msg)))
	}
	return p, nil
}
