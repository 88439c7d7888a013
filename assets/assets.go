// Package assets embeds the browser side of Switchboard into the binary: the
// dashboard and the switchboard.js loader (copied from frontend/ at build
// time), the WebAssembly client switchboard.wasm with its pre-compressed
// .br and .gz variants, and Go's wasm_exec.js.
//
// The embed pattern always matches a committed file (dist/.gitkeep), so
// `go build ./...` works on a fresh clone. The build outputs themselves are
// not committed: `go tool task build` fills dist/. Without them the server
// still runs and serves a page that says how to build the browser client.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// FS returns the embedded build output, rooted at dist/.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a literal that always exists
	}
	return sub
}

// Built reports whether the frontend build output is present (dist holds an
// index.html), as opposed to only the placeholder of a fresh clone.
func Built() bool {
	_, err := fs.Stat(FS(), "index.html")
	return err == nil
}
