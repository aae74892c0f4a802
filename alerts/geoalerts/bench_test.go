package geoalerts

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// BenchmarkObserve measures what a login costs the event path: a queued
// event (a goroutine empties the queue), a dropped one (the queue is full)
// and one no rule judges.
func BenchmarkObserve(b *testing.B) {
	ev := success("bench@example.com", T, london, desktop)
	now := time.Now()
	b.Run("queued", func(b *testing.B) {
		st, _ := New(&slowStore{}, Config{}, nil)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-st.q:
				case <-stop:
					return
				}
			}
		}()
		for b.Loop() {
			st.Observe(ev, now)
		}
		close(stop)
	})
	b.Run("queued-parallel", func(b *testing.B) {
		st, _ := New(&slowStore{}, Config{}, nil)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-st.q:
				case <-stop:
					return
				}
			}
		}()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				st.Observe(ev, now)
			}
		})
		close(stop)
	})
	b.Run("dropped", func(b *testing.B) {
		st, _ := New(&slowStore{}, Config{QueueSize: 1}, nil)
		st.Observe(ev, now)
		for b.Loop() {
			st.Observe(ev, now)
		}
	})
	b.Run("ignored", func(b *testing.B) {
		st, _ := New(&slowStore{}, Config{}, nil)
		f := failure("bench@example.com", T, 0)
		for b.Loop() {
			st.Observe(f, now)
		}
	})
}

// BenchmarkJudge measures what the stage's goroutine can judge per second,
// on each store: a success of an account whose summary is cached (no read),
// of an account never seen (one read of its history of 20 logins), and a
// failure from an ASN new to the account (one read).
func BenchmarkJudge(b *testing.B) {
	for _, bk := range backends {
		b.Run(bk.name, func(b *testing.B) {
			store := bk.open(b)
			const users = 1000
			var hist []event.Event
			for u := range users {
				for i := range 20 {
					hist = append(hist, success(fmt.Sprintf("u%d@example.com", u), T.Add(-time.Duration(i+1)*time.Hour), london, desktop))
				}
			}
			if err := store.Deliver(context.Background(), hist); err != nil {
				b.Fatal(err)
			}
			b.Run("success-cached", func(b *testing.B) {
				st, _ := New(store, Config{}, nil)
				ev := success("u0@example.com", T, london, desktop)
				for b.Loop() {
					st.judge(&ev)
				}
			})
			b.Run("success-read", func(b *testing.B) {
				st, _ := New(store, Config{CacheTTL: time.Nanosecond}, nil)
				i := 0
				for b.Loop() {
					ev := success(fmt.Sprintf("u%d@example.com", i%users), T, london, desktop)
					st.judge(&ev)
					i++
				}
			})
			b.Run("failure-new-asn", func(b *testing.B) {
				st, _ := New(store, Config{ASNThreshold: 1000}, nil)
				i := int64(0)
				for b.Loop() {
					ev := failure("u1@example.com", T, 1+i)
					st.judge(&ev)
					i++
				}
			})
		})
	}
}
