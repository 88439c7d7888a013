//go:build js && wasm

package main

import (
	"errors"
	"math"
	"strconv"

	"github.com/hack-pad/safejs"

	"github.com/switchboardhq/switchboard/client"
)

// Presence and recovery (docs/delivery.md): subscribe's options presence,
// onGap and since map to client.WithPresence, WithGapHandler and WithSince;
// Subscription.position is Subscription.Position; Client.presence is
// Client.Presence. Recovery itself is the Go client's: nothing here decides
// what to resend or replay.

// maxSafeInteger is Number.MAX_SAFE_INTEGER: seqs up to it are exact.
const maxSafeInteger = 1<<53 - 1

// subscribeOptions are the parsed options of subscribe.
type subscribeOptions struct {
	presence, onGap safejs.Value // functions or undefined
	since           *client.Position
}

// parseSubscribeOptions reads subscribe's third argument: undefined, null
// or {presence?, onGap?, since?: {epoch, seq}}. It runs in the calling
// JavaScript callback, like every argument check.
func parseSubscribeOptions(v safejs.Value) (subscribeOptions, error) {
	so := subscribeOptions{presence: safejs.Undefined(), onGap: safejs.Undefined()}
	if isNullish(v) {
		return so, nil
	}
	if !isObject(v) {
		return so, &codeError{code: codeBadRequest, msg: "switchboard: subscribe's options must be an object {presence, onGap, since}"}
	}
	r := optReader{obj: v, where: "options"}
	so.presence = r.fn("presence")
	so.onGap = r.fn("onGap")
	since := r.get("since")
	if r.err != nil {
		return so, r.err
	}
	if since.IsUndefined() {
		return so, nil
	}
	bad := &codeError{code: codeBadRequest, msg: "switchboard: options.since must be a position {epoch: string, seq: number} (Subscription.position)"}
	if !isObject(since) {
		return so, bad
	}
	sr := optReader{obj: since, where: "options.since"}
	epoch := sr.str("epoch")
	seqV := sr.get("seq")
	if sr.err != nil {
		return so, sr.err
	}
	seq, err := seqV.Float()
	if seqV.Type() != safejs.TypeNumber || err != nil || seq < 0 || seq > maxSafeInteger || seq != math.Trunc(seq) {
		return so, bad
	}
	so.since = &client.Position{Epoch: epoch, Seq: uint64(seq)}
	return so, nil
}

// goOptions returns the client's options for so; deliver calls the page's
// functions on the client's handler goroutine.
func (so subscribeOptions) goOptions(jc *jsClient, pattern string) []client.SubscribeOption {
	var opts []client.SubscribeOption
	if isFunction(so.presence) {
		fn, what := so.presence, "presence handler for "+strconv.Quote(pattern)
		opts = append(opts, client.WithPresence(func(ev client.PresenceEvent) {
			v, err := presenceEventToJS(ev)
			if err != nil {
				jc.report(err)
				return
			}
			jc.invoke(what, fn, v)
		}))
	}
	if isFunction(so.onGap) {
		fn, what := so.onGap, "gap handler for "+strconv.Quote(pattern)
		opts = append(opts, client.WithGapHandler(func(re *client.RecoveryError) {
			v, err := gapToJS(re)
			if err != nil {
				jc.report(err)
				return
			}
			jc.invoke(what, fn, v)
		}))
	}
	if so.since != nil {
		opts = append(opts, client.WithSince(*so.since))
	}
	return opts
}

// presenceEventToJS builds the PresenceEvent of switchboard.d.ts:
// {topic, event, clientId, name}.
func presenceEventToJS(ev client.PresenceEvent) (safejs.Value, error) {
	o, err := newObject()
	if err == nil {
		err = setAll(o, "topic", ev.Topic, "event", ev.Event, "clientId", ev.ClientID, "name", ev.Name)
	}
	return o, err
}

// gapToJS builds the GapInfo of switchboard.d.ts: {topic, reason, lastSeq,
// epoch, seq}.
func gapToJS(re *client.RecoveryError) (safejs.Value, error) {
	o, err := newObject()
	if err == nil {
		err = setAll(o, "topic", re.Topic, "reason", re.Reason, "lastSeq", float64(re.LastSeq),
			"epoch", re.Epoch, "seq", float64(re.Seq))
	}
	return o, err
}

// positionToJS builds the Position of switchboard.d.ts: {epoch, seq}.
func positionToJS(p client.Position) (safejs.Value, error) {
	o, err := newObject()
	if err == nil {
		err = setAll(o, "epoch", p.Epoch, "seq", float64(p.Seq))
	}
	return o, err
}

// membersToJS builds the Member array of Client.presence:
// [{clientId, name}, …], in the server's order (by name, then client id).
func membersToJS(ms []client.Member) (any, error) {
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		o, err := newObject()
		if err == nil {
			err = setAll(o, "clientId", m.ClientID, "name", m.Name)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// decorateRecoveryError adds the gap's details to the SwitchboardError of a
// *client.RecoveryError (code not_recovered, reported to onError): topic,
// reason, lastSeq, epoch and seq.
func decorateRecoveryError(e safejs.Value, err error) {
	var re *client.RecoveryError
	if !errors.As(err, &re) {
		return
	}
	_ = setAll(e, "topic", re.Topic, "reason", re.Reason, "lastSeq", float64(re.LastSeq),
		"epoch", re.Epoch, "seq", float64(re.Seq))
}
