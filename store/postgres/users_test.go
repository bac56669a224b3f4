package postgres_test

import (
	"context"
	"testing"

	"github.com/lakeport/lakeport/internal/pgtest"
	"github.com/lakeport/lakeport/store/postgres"
	"github.com/lakeport/lakeport/store/storetest"
)

func TestUsersConformance(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.RunUsers(t, s)
}
