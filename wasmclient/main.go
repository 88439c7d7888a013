//go:build js && wasm

package main

import (
	"github.com/hack-pad/safejs"
)

// readyHook is the global function the loader (frontend/switchboard.js)
// sets before go.run: main calls it once, with the API object, or with
// (null, error) when it cannot start.
const readyHook = "__switchboardReady"

func main() {
	ready, err := safejs.Global().Get(readyHook)
	if err != nil || !isFunction(ready) {
		if console, err := safejs.Global().Get("console"); err == nil {
			_, _ = console.Call("error", "switchboard: globalThis."+readyHook+
				" is not a function: load switchboard.wasm with switchboard.js (import { load } from '…/switchboard.js')")
		}
		return
	}
	api, _, err := newAPI()
	if err != nil {
		_, _ = ready.Invoke(safejs.Null(), jsError(err))
		return
	}
	if _, err := ready.Invoke(api); err != nil {
		_, _ = g.console.Call("error", "switchboard: the loader's "+readyHook+" threw", thrownValue(err))
		return
	}
	select {} // the API's Funcs must outlive main
}
