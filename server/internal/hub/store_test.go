package hub_test

import (
	"testing"

	"github.com/switchboardhq/switchboard/server/internal/hub"
	"github.com/switchboardhq/switchboard/server/internal/hub/hubtest"
)

var _ hub.HistoryStore = hub.MemoryStore{}

func TestMemoryStoreConformance(t *testing.T) {
	hubtest.Run(t, hubtest.Factory{
		Open: func(*testing.T, string) hub.HistoryStore { return hub.MemoryStore{} },
	})
}
