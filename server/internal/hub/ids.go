package hub

import "crypto/rand"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomID returns prefix followed by n base62 characters from crypto/rand
// (about 5.95 bits each, without modulo bias).
func randomID(prefix string, n int) string {
	out := make([]byte, len(prefix), len(prefix)+n)
	copy(out, prefix)
	var buf [32]byte
	for len(out) < cap(out) {
		rand.Read(buf[:]) // never fails (Go 1.24+)
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: reject to stay uniform
				continue
			}
			out = append(out, base62[b%62])
			if len(out) == cap(out) {
				break
			}
		}
	}
	return string(out)
}

// Client ids carry 20 base62 characters (~119 bits): unique without
// coordination, so also across a cluster.
func newClientID() string { return randomID("c_", 20) }

// reply_to values are unguessable, although a reply is only ever matched
// within the replier's own session.
func newReplyTo() string { return randomID("r_", 20) }

// An epoch names one incarnation of a stream: it changes whenever the
// stream's state is lost (restart, expiry).
func newEpoch() string { return randomID("", 12) }
