package client

// outItem is one encoded object waiting to be written.
type outItem struct {
	data []byte
	call *call // the acknowledged call waiting for it, if any
	// control objects (subscribe, unsubscribe, heartbeat ping) are not
	// counted against the bounds and are dropped when the connection is
	// lost: the next connection resubscribes from the subscription table.
	control bool
}

// outbox is the FIFO of objects waiting to be written, shared by all
// connections of a client so that it outlives an outage. Guarded by
// Client.mu.
type outbox struct {
	items []outItem
	head  int
	n     int // data (non-control) items
	bytes int // bytes of data items
}

func (b *outbox) len() int { return len(b.items) - b.head }

func (b *outbox) front() *outItem { return &b.items[b.head] }

// fits reports whether a data item of size bytes stays within the bounds.
// An empty outbox takes any one item.
func (b *outbox) fits(size, maxN, maxBytes int) bool {
	return b.n == 0 || (b.n < maxN && b.bytes+size <= maxBytes)
}

func (b *outbox) count(it *outItem, sign int) {
	if !it.control {
		b.n += sign
		b.bytes += sign * len(it.data)
	}
}

func (b *outbox) push(it outItem) {
	if b.head > 0 && b.head == len(b.items) {
		b.items, b.head = b.items[:0], 0
	}
	b.items = append(b.items, it)
	b.count(&it, 1)
}

func (b *outbox) pop() {
	b.count(&b.items[b.head], -1)
	b.items[b.head] = outItem{}
	b.head++
	if b.head == len(b.items) {
		b.items, b.head = b.items[:0], 0
	}
}

// prepend puts items ahead of everything queued, in their order.
func (b *outbox) prepend(items []outItem) {
	if len(items) == 0 {
		return
	}
	rest := b.items[b.head:]
	all := make([]outItem, 0, len(items)+len(rest))
	all = append(append(all, items...), rest...)
	b.items, b.head = all, 0
	for i := range items {
		b.count(&items[i], 1)
	}
}

// filter keeps the items for which keep returns true, in order.
func (b *outbox) filter(keep func(*outItem) bool) {
	kept := b.items[:0]
	for i := b.head; i < len(b.items); i++ {
		it := b.items[i]
		if keep(&it) {
			kept = append(kept, it)
		} else {
			b.count(&it, -1)
		}
	}
	clear(b.items[len(kept):])
	b.items, b.head = kept, 0
}

// remove drops the item of cl, if it is still queued.
func (b *outbox) remove(cl *call) {
	b.filter(func(it *outItem) bool { return it.call != cl })
}

func (b *outbox) reset() {
	clear(b.items)
	*b = outbox{items: b.items[:0]}
}
