package geoalerts

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/sqlite"
)

// slowStore is a log store whose reads wait until released or cancelled,
// and take 50 ms more to give up when cancelled (a slow driver).
type slowStore struct {
	logstore.Store
	entered  chan struct{}
	release  chan struct{}
	returned atomic.Bool
}

func (s *slowStore) Each(ctx context.Context, f logstore.Filter, asc bool, fn func(event.Event) error) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
		return s.Store.Each(ctx, f, asc, fn)
	case <-ctx.Done():
		time.Sleep(50 * time.Millisecond)
		s.returned.Store(true)
		return ctx.Err()
	}
}

// TestSlowStore: while the store does not answer, Observe returns at once,
// queues QueueSize events and drops the rest, counted; ALERT events are not
// queued; Close cancels the read, waits for the goroutine and counts what
// was still queued as dropped; nothing is reported after.
func TestSlowStore(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "log.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := &slowStore{Store: db, entered: make(chan struct{}, 1), release: make(chan struct{})}
	const queue, n = 8, 100
	st, err := New(store, Config{QueueSize: queue}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var reports atomic.Int64
	st.Start(func([]connectors.Finding) { reports.Add(1) })

	st.Observe(success("slow@example.com", T, london, desktop), time.Now())
	select {
	case <-store.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the stage did not read the store")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			st.Observe(success("slow@example.com", T.Add(time.Duration(i)*time.Second), berlin, iphone), time.Now())
		}
		alert := success("slow@example.com", T, berlin, iphone)
		alert.EventType = event.Alert
		st.Observe(alert, time.Now())
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Observe waited for the store")
	}
	if s := st.Stats(); s.Queued != queue || s.Dropped != n-queue || s.Processed != 0 {
		t.Errorf("stats %+v, want %d queued, %d dropped, none processed", s, queue, n-queue)
	}

	st.Close()
	if !store.returned.Load() {
		t.Error("Close returned before the stage's read of the store did")
	}
	if s := st.Stats(); s.Dropped != n || s.Queued != 0 || s.Processed != 1 || s.StoreErrors != 0 {
		t.Errorf("stats after Close %+v, want %d dropped, the one read processed, no store error (Close cancelled it)", s, n)
	}
	st.Observe(success("slow@example.com", T, london, desktop), time.Now())
	if s := st.Stats(); s.Queued != 0 {
		t.Errorf("Observe after Close queued: %+v", s)
	}
	if r := reports.Load(); r != 0 {
		t.Errorf("%d reports", r)
	}
}

// TestConfigErrors: each wrong field is named.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		field string
		cfg   Config
	}{
		{"history", Config{History: -time.Hour}},
		{"max_history", Config{MaxHistory: -1}},
		{"impossible_travel.max_speed", Config{MaxSpeed: -1}},
		{"impossible_travel.max_speed", Config{MaxSpeed: math.NaN()}},
		{"many_asns.threshold", Config{ASNThreshold: 1}},
		{"many_asns.window", Config{ASNWindow: -1}},
		{"queue_size", Config{QueueSize: -1}},
		{"cache_size", Config{CacheSize: -5}},
		{"cache_ttl", Config{CacheTTL: -time.Second}},
		{"query_timeout", Config{QueryTimeout: -time.Second}},
		{"new_country.cooldown", Config{NewCountry: RuleConfig{Cooldown: -1}}},
		{"new_device.cooldown", Config{NewDevice: RuleConfig{Cooldown: -1}}},
		{"impossible_travel.cooldown", Config{ImpossibleTravel: RuleConfig{Cooldown: -1}}},
		{"many_asns.cooldown", Config{ManyASNs: RuleConfig{Cooldown: -1}}},
	} {
		_, err := New(&slowStore{}, tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), " "+tc.field+": ") {
			t.Errorf("%+v: error %v, want one naming %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := New(nil, Config{}, nil); err == nil {
		t.Error("no store: no error")
	}
	st, err := New(&slowStore{}, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := st.cfg
	if c.History != 90*24*time.Hour || c.MaxHistory != 200 || c.MaxSpeed != 1000 || c.ASNThreshold != 5 || c.ASNWindow != time.Hour ||
		c.QueueSize != 4096 || c.CacheSize != 10000 || c.CacheTTL != time.Minute || c.NewCountry.Cooldown != time.Hour ||
		c.ManyASNs.Cooldown != time.Hour || c.NewDevice.Cooldown != time.Hour || c.ImpossibleTravel.Cooldown != time.Hour {
		t.Errorf("defaults %+v", c)
	}
}

// TestDistance checks the great-circle distance against published ones.
func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		from, to city
		km       float64
	}{
		{london, sydney, 16994},
		{london, paris, 344},
		{paris, paris, 0},
	} {
		got := distanceKm(tc.from.Latitude, tc.from.Longitude, tc.to.Latitude, tc.to.Longitude)
		if math.Abs(got-tc.km) > 0.01*tc.km+0.001 {
			t.Errorf("%s to %s: %.1f km, want %.0f", tc.from.City, tc.to.City, got, tc.km)
		}
	}
}

// TestCacheBound: the cache keeps CacheSize summaries, the least recently
// used goes first.
func TestCacheBound(t *testing.T) {
	c := newCache(2)
	a := c.get("a")
	c.get("b")
	c.get("a") // a is now the most recently used
	c.get("c") // evicts b
	if c.order.Len() != 2 || c.get("a") != a {
		t.Fatalf("a was evicted or the cache holds %d", c.order.Len())
	}
	if _, ok := c.byKey["b"]; ok {
		t.Error("b was kept")
	}
}
