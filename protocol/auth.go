package protocol

// TypeRefresh replaces a connection's token before it expires (an addition
// to PROTOCOL.md, docs/protocol.md "Authentication"):
//
//	{"type":"refresh","id":"r1","token":"<new token>"}
//
// The server answers with an ack of the same id, or with an error
// (unauthorized: the token is not valid; forbidden: it names another client
// name or session, or changes the service role). The connection keeps its
// client id, session and subscriptions; subscriptions the new token no
// longer allows are dropped.
const TypeRefresh = "refresh"

// MaxTokenBytes is the largest token a server reads; a longer one is refused
// as invalid without being parsed.
const MaxTokenBytes = 8 << 10
