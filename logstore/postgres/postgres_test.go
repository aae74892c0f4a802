package postgres

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/storetest"
)

// dsn is the test database: the real PostgreSQL, trust auth. Missing is a failure.
func dsn() string {
	if v := os.Getenv("LOGINGUARD_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

var seq atomic.Int64

func open(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	schema := fmt.Sprintf("logstore_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, seq.Add(1))
	s, err := Open(ctx, dsn(), Options{Schema: schema})
	if err != nil {
		t.Fatalf("PostgreSQL at %s is required: %v", dsn(), err)
	}
	t.Cleanup(func() {
		s.Close()
		if err := DropSchema(context.Background(), dsn(), schema); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) logstore.Store { return open(t) })
}
