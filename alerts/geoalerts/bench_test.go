package geoalerts

import (
	"testing"
	"time"
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
