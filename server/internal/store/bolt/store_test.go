package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/switchboardhq/switchboard/server/internal/hub"
	"github.com/switchboardhq/switchboard/server/internal/hub/hubtest"
	"github.com/switchboardhq/switchboard/server/internal/store/bolt"
)

var _ hub.HistoryStore = (*bolt.Store)(nil)

func openStore(t *testing.T, dir string) hub.HistoryStore {
	t.Helper()
	s, err := bolt.Open(filepath.Join(dir, "history.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBoltStoreConformance(t *testing.T) {
	hubtest.Run(t, hubtest.Factory{
		Open: openStore,
		Close: func(t *testing.T, s hub.HistoryStore) {
			if err := s.(*bolt.Store).Close(); err != nil {
				t.Fatal(err)
			}
		},
		Crash: func(t *testing.T, s hub.HistoryStore) {
			if err := s.(*bolt.Store).Crash(); err != nil {
				t.Fatal(err)
			}
		},
		Durable: true,
	})
}

// A second process cannot open the same file.
func TestBoltStoreLocked(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir)
	if _, err := bolt.Open(filepath.Join(dir, "history.db"), bolt.Options{}); err == nil {
		t.Fatal("opened a file another store holds")
	}
}
