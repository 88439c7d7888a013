//go:build js && wasm

package client

import (
	"os"
	"testing"
)

// testServerURL returns the server that wasm tests run against:
// SWITCHBOARD_TEST_URL (for example ws://127.0.0.1:8080/ws). Without it,
// network tests are skipped.
func testServerURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("SWITCHBOARD_TEST_URL")
	if url == "" {
		t.Skip("SWITCHBOARD_TEST_URL not set: no server to test against under js/wasm")
	}
	return url
}
