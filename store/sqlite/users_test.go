package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/store/storetest"
)

func TestUsersConformance(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunUsers(t, s)
}
