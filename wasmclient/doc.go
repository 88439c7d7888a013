//go:build js && wasm

// Command wasmclient is Switchboard's browser client: the Go client
// (package client, and through it the end-to-end crypto of package seal)
// compiled with GOOS=js GOARCH=wasm into switchboard.wasm and exposed as
// the JavaScript API of frontend/switchboard.d.ts. No protocol or crypto is
// written again in JavaScript: this package only converts between
// JavaScript values and the client's Go API, through
// github.com/hack-pad/safejs, so that a JavaScript exception is a Go error
// and never a panic.
//
// Build it with
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o switchboard.wasm ./wasmclient
//
// and pre-compress it with go run ./internal/precompress switchboard.wasm.
//
// # Contract with the loader
//
// frontend/switchboard.js fetches wasm_exec.js and switchboard.wasm, sets
// globalThis.__switchboardReady to a function, and calls go.run. main
// builds the API object and calls globalThis.__switchboardReady(api) once
// (the loader's function then deletes itself and resolves load()); if the
// API cannot be built it calls __switchboardReady(null, error) and returns.
// Otherwise main never returns (select {}), since the API's Funcs are Go
// code: an exiting program would leave the page with dead functions. Run
// without the loader (no __switchboardReady), main logs an error to the
// console and exits.
//
// # The API
//
// The object passed to the loader is {version, connect(options),
// createClient(name, url, options, publishAction, sessionId)}; a Client is
// {clientId, url, name, sessionId, encrypted, subscribe, publish, request,
// onRequest, send, presence, onDefault, ping, close}, and a Subscription
// {pattern, position, unsubscribe}, as in switchboard.d.ts. The options'
// urls (more servers, after url) are client.Options.URLs: connect tries
// them in order and reconnects fail over among them; Client.url, a getter
// like clientId, is the URL of the current connection.
// Payloads go through the page's own JSON.stringify and JSON.parse, so
// they are exactly what JSON would make of them (undefined becomes null,
// toJSON is honoured, a BigInt is a bad_request). Every method that waits
// for the server returns a Promise rejected with an Error named
// "SwitchboardError" whose code is the server's protocol code (forbidden,
// timeout, no_responders, …), a decryption failure (wrong_key, tampered,
// replay, stale, unsigned, unknown_sender, key_changed, plaintext), or a
// client-side one: bad_request (wrong arguments), closed, not_connected
// (an outage with the buffer full), network, handler, slow_consumer (the
// handlers fell behind and messages were dropped), not_recovered (see
// below), internal. An error
// caused by a WebSocket close also has closeCode; one about a message that
// failed to open has topic, publisherName and seq. The error that ends a
// client (a terminal close code, a refused reconnect) reaches onError with
// code closed, and the client then releases everything by itself.
//
// Request handlers (onRequest) see only requests (messages with replyTo);
// their return value, or the value their promise resolves to, is the
// reply. When they throw or reject, the requester gets the reply
// {"error": message} at once instead of a timeout, and onError gets a
// 'handler' error.
//
// # Presence and recovery
//
// subscribe's third argument maps to the Go client's options (delivery.go):
// presence to WithPresence (join and leave events of other clients on a
// topic, as {topic, event, clientId, name}), onGap to WithGapHandler, and
// since (a saved Subscription.position) to WithSince; presence and since on
// a pattern with wildcards are refused with bad_request. Recovery is the Go
// client's: after every reconnect it resubscribes each topic from the last
// seq it received, and the server replays what was missed; when it cannot,
// onGap receives {topic, reason, lastSeq, epoch, seq} and onError a
// SwitchboardError with code not_recovered and the same properties.
// Client.presence(topic) is Client.Presence, resolved to [{clientId, name}].
//
// # Concurrency
//
// JavaScript calls into Go on the event loop, and a Go callback must never
// block: while it waits, no JavaScript runs, so whatever it waits for (a
// WebSocket event, a timer) never comes, and the page deadlocks. So every
// method reads its arguments synchronously (the payload is serialised at
// the call, so a later change to the object does not matter), starts a
// goroutine, and returns a Promise at once; the goroutine calls the client
// (which may wait) and settles the Promise. Promises are made with the
// global Promise and an executor Func (safejs has no helper).
//
// Handlers (presence and onGap too), onState and onError are called by the
// client's handler goroutine, one at a time and in order (a presence event
// in order with the messages around it), which is not a JavaScript callback:
// it may wait, and a handler may call any method, close included. An
// exception in a handler goes to onError with code 'handler' (to
// console.error when there is no onError) and delivery goes on; a handler
// that returns a promise has its rejection reported the same way. A
// request handler's promise is awaited in a goroutine of its own, so that
// it does not hold up the messages behind it. The tokenProvider of connect
// options is client.Options.TokenFunc: the client calls it from its own
// goroutines (before each connection attempt and for each refresh) and
// waits there for its promise.
//
// # Func lifetimes
//
// Every Func is made by newFunc and released by releaseFunc, and counted
// (liveFuncs), so tests can check that nothing leaks. A Promise executor
// lives for the Promise constructor call; the two callbacks that await a
// promise live until it settles. The API's connect and createClient live
// as long as the program. A client's methods, its clientId getter and its
// subscriptions' position getters and unsubscribe methods are held in one
// registry (funcSet): unsubscribe releases its subscription's two Funcs,
// and close, or a terminal close by the server, releases them all once the
// client's goroutines have ended. The page's presence and onGap functions
// and the tokenProvider are JavaScript values called from Go, not Funcs:
// nothing to release (awaiting a provider's promise holds two Funcs until
// it settles or the attempt gives up).
// Before a Func is released, the property that holds it is replaced by a
// long-lived function that returns a Promise rejected with code 'closed'
// (resolved, for close, unsubscribe and onDefault), and clientId and
// position become plain values (their last): a page that keeps a reference to a closed client gets an
// answer, not Go's "call to released function". A promise returned by a
// handler that settles after its client closed may still reach a released
// Func; Go logs that to the console and nothing else happens.
package main
