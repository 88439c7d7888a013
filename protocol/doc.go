// Package protocol defines Switchboard's wire protocol, version 1: the frame
// types exchanged over the WebSocket endpoint, the newline-delimited JSON
// framing, validation of names, session ids, topics and subscription
// patterns, and the error and close codes with their reconnect-or-stop
// meaning.
//
// The package is the contract shared by the server, the Go client and the
// WebAssembly client. It depends on the standard library only and builds for
// js/wasm unchanged. docs/protocol.md in the repository is the human-readable
// specification; this package is its executable form.
//
// # Framing
//
// A WebSocket text frame holds one or more JSON objects separated by a
// single '\n'. [Split] walks the objects of a frame; [Decode] parses one
// object into a [Frame]. Servers batch several encoded objects into one frame
// by joining them with '\n'.
//
// # Concurrency
//
// Everything here is stateless or immutable and safe for concurrent use.
//
// # Limits
//
// Names are at most 64 characters, session ids 128, topics 256 bytes and ids
// 64 bytes; see the Max* constants. Frame size limits are a server setting
// (DefaultMaxFrameBytes).
package protocol
