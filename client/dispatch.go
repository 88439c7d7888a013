package client

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// dispatcher runs every user callback (handlers, OnState, OnError) in order
// on one goroutine, outside the client's locks. Messages wait in a queue
// bounded by Options.DispatchQueueSize; when it is full the reader drops
// new messages instead of blocking (so acks, pongs and responses keep
// flowing) and ErrSlowConsumer is reported once per run of drops. State
// changes and errors are never dropped.
type dispatcher struct {
	c   *Client
	max int
	gid atomic.Uint64 // the goroutine's id, for Close called from a callback

	mu       sync.Mutex
	q        []dispItem
	head     int
	msgs     int  // messages in q
	dropped  int  // messages dropped since the last report
	reported bool // a drop report is queued
	final    bool // the final item is queued: nothing more is accepted
	sig      chan struct{}
	done     chan struct{}
}

type dispItem struct {
	kind  dispKind
	msg   *Message
	state State
	err   error
	fn    func() // dispFunc: internal work that must run in order with handlers
}

type dispKind uint8

const (
	dispMessage dispKind = iota
	dispState
	dispError
	dispDrops
	dispFunc
	dispFinal
)

func newDispatcher(c *Client, max int) *dispatcher {
	return &dispatcher{c: c, max: max, sig: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *dispatcher) start() {
	go d.run()
}

// wait returns when the dispatcher goroutine has ended.
func (d *dispatcher) wait() { <-d.done }

func (d *dispatcher) push(it dispItem) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pushLocked(it)
}

func (d *dispatcher) pushLocked(it dispItem) {
	if d.final {
		return
	}
	if it.kind == dispMessage {
		if d.msgs >= d.max {
			d.dropped++
			if !d.reported {
				d.reported = true
				d.q = append(d.q, dispItem{kind: dispDrops})
			}
			return
		}
		d.msgs++
	}
	d.q = append(d.q, it)
	select {
	case d.sig <- struct{}{}:
	default:
	}
}

func (d *dispatcher) pushMessage(m *Message) { d.push(dispItem{kind: dispMessage, msg: m}) }
func (d *dispatcher) pushState(s State)      { d.push(dispItem{kind: dispState, state: s}) }

func (d *dispatcher) pushError(err error) {
	if d.c.opts.OnError != nil {
		d.push(dispItem{kind: dispError, err: err})
	}
}

// finish queues the final item: the goroutine ends after running what is
// queued before it.
func (d *dispatcher) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pushLocked(dispItem{kind: dispFinal})
	d.final = true
}

// discardMessages drops the queued messages (Close), keeping state changes
// and errors.
func (d *dispatcher) discardMessages() {
	d.mu.Lock()
	defer d.mu.Unlock()
	kept := d.q[:d.head]
	for _, it := range d.q[d.head:] {
		if it.kind != dispMessage {
			kept = append(kept, it)
		}
	}
	clear(d.q[len(kept):])
	d.q = kept
	d.msgs = 0
}

func (d *dispatcher) next() dispItem {
	for {
		d.mu.Lock()
		if d.head < len(d.q) {
			it := d.q[d.head]
			d.q[d.head] = dispItem{}
			d.head++
			if d.head == len(d.q) {
				d.q, d.head = d.q[:0], 0
			}
			switch it.kind {
			case dispMessage:
				d.msgs--
			case dispDrops:
				it.err = fmt.Errorf("%w: %d messages", ErrSlowConsumer, d.dropped)
				d.dropped, d.reported = 0, false
			}
			d.mu.Unlock()
			return it
		}
		d.mu.Unlock()
		<-d.sig
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	d.gid.Store(goid())
	o := &d.c.opts
	for {
		it := d.next()
		switch it.kind {
		case dispMessage:
			d.c.deliver(it.msg)
		case dispState:
			if o.OnState != nil {
				o.OnState(it.state)
			}
		case dispError, dispDrops:
			if it.kind == dispDrops {
				d.c.log.Warn("switchboard: handlers too slow, messages dropped", "err", it.err)
			}
			if o.OnError != nil {
				o.OnError(it.err)
			}
		case dispFunc:
			it.fn()
		case dispFinal:
			return
		}
	}
}
