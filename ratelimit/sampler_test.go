package ratelimit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/ratelimit"
)

func TestSamplerPerKeyInterval(t *testing.T) {
	s := ratelimit.NewSampler(10*time.Second, 0)
	t0 := time.Unix(1_000_000, 0)
	type step struct {
		key       string
		at        time.Duration
		emit      bool
		suppresed int
	}
	steps := []step{
		{"ip:192.0.2.1/32", 0, true, 0},
		{"ip:192.0.2.1/32", time.Second, false, 1},
		{"ip:192.0.2.1/32", 2 * time.Second, false, 2},
		{"route:", 3 * time.Second, true, 0}, // keys are independent
		{"ip:192.0.2.1/32", 9999 * time.Millisecond, false, 3},
		{"ip:192.0.2.1/32", 10 * time.Second, true, 3}, // carries the 3 suppressed
		{"ip:192.0.2.1/32", 11 * time.Second, false, 1},
		{"route:", 13 * time.Second, true, 0},
		{"ip:192.0.2.1/32", time.Hour, true, 1},
		{"ip:192.0.2.1/32", time.Hour - time.Minute, true, 0}, // the clock went back: emit
	}
	for i, st := range steps {
		emit, n := s.Allow(st.key, t0.Add(st.at))
		if emit != st.emit || n != st.suppresed {
			t.Fatalf("step %d (%s at %v): Allow = %v, %d; want %v, %d", i, st.key, st.at, emit, n, st.emit, st.suppresed)
		}
	}
	if st := s.Stats(); st.Suppressed != 4 || st.Unreported != 0 || st.Keys != 2 {
		t.Fatalf("stats %+v, want 4 suppressed, 0 unreported, 2 keys", st)
	}
}

func TestSamplerFloodEmitsOncePerInterval(t *testing.T) {
	s := ratelimit.NewSampler(0, 0) // defaults: 10 s
	t0 := time.Unix(1_000_000, 0)
	emitted, carried := 0, 0
	// 100 attempts a second for a minute.
	for i := range 6000 {
		if emit, n := s.Allow("route:", t0.Add(time.Duration(i)*10*time.Millisecond)); emit {
			emitted++
			carried += n
		}
	}
	if emitted != 6 {
		t.Fatalf("%d events emitted in a minute, want 6 (one per 10 s)", emitted)
	}
	st := s.Stats()
	if int(st.Suppressed) != 6000-emitted || carried+999 != int(st.Suppressed) {
		t.Fatalf("suppressed %d, carried by events %d: want 5994 and 4995 (999 still pending)", st.Suppressed, carried)
	}
}

func TestSamplerBounded(t *testing.T) {
	s := ratelimit.NewSampler(10*time.Second, 100)
	t0 := time.Unix(1_000_000, 0)
	for i := range 1000 {
		key := fmt.Sprintf("ip:10.0.%d.%d/32", i/256, i%256)
		if emit, _ := s.Allow(key, t0); !emit {
			t.Fatalf("first attempt of %s not emitted", key)
		}
		s.Allow(key, t0.Add(time.Millisecond)) // one suppressed each
	}
	st := s.Stats()
	if st.Keys != 100 {
		t.Fatalf("%d keys remembered, want the bound 100", st.Keys)
	}
	if st.Suppressed != 1000 || st.Unreported != 900 {
		t.Fatalf("stats %+v, want 1000 suppressed, 900 unreported (evicted)", st)
	}
	// The newest keys are the ones kept: the last one is still suppressed.
	if emit, n := s.Allow("ip:10.0.3.231/32", t0.Add(time.Second)); emit || n != 2 {
		t.Fatalf("newest key: Allow = %v, %d; want false, 2", emit, n)
	}
	// The oldest was evicted: it emits at once.
	if emit, n := s.Allow("ip:10.0.0.0/32", t0.Add(time.Second)); !emit || n != 0 {
		t.Fatalf("evicted key: Allow = %v, %d; want true, 0", emit, n)
	}

	// Quiet keys whose interval is over are dropped as new keys come.
	s = ratelimit.NewSampler(time.Second, 1000)
	for i := range 500 {
		s.Allow(fmt.Sprintf("k%d", i), t0)
	}
	for i := range 500 {
		s.Allow(fmt.Sprintf("n%d", i), t0.Add(time.Minute))
	}
	if st := s.Stats(); st.Keys != 500 || st.Unreported != 0 {
		t.Fatalf("stats %+v, want the 500 old quiet keys gone", st)
	}
}

func TestSamplerConcurrent(t *testing.T) {
	s := ratelimit.NewSampler(time.Hour, 10)
	now := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	emitted := 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				if emit, _ := s.Allow(fmt.Sprintf("k%d", (g*1000+i)%5), now); emit {
					mu.Lock()
					emitted++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if st := s.Stats(); emitted != 5 || st.Suppressed != 8000-5 {
		t.Fatalf("%d emitted, stats %+v; want 5 emitted and 7995 suppressed", emitted, st)
	}
}

func TestSamplerBudget(t *testing.T) {
	s := ratelimit.NewSampler(10*time.Second, 0).WithBudget(3)
	t0 := time.Unix(1_000_000, 0)
	var emitted, carried int
	for i := range 100 {
		emit, n := s.Allow("locked:a", t0.Add(time.Duration(i)*time.Millisecond))
		if emit {
			emitted++
			carried += n
		}
	}
	if emitted != 3 || carried != 0 {
		t.Fatalf("first interval: %d events carrying %d, want 3 carrying 0", emitted, carried)
	}
	// Another key has its own budget.
	for i := range 3 {
		if emit, _ := s.Allow("locked:b", t0); !emit {
			t.Fatalf("key b attempt %d suppressed", i)
		}
	}
	// The next interval: its first event carries the 97 suppressed, then two more.
	var got []int
	for i := range 10 {
		if emit, n := s.Allow("locked:a", t0.Add(10*time.Second+time.Duration(i))); emit {
			got = append(got, n)
		}
	}
	if fmt.Sprint(got) != "[97 0 0]" {
		t.Fatalf("second interval events carry %v, want [97 0 0]", got)
	}
	if st := s.Stats(); st.Suppressed != 97+7 {
		t.Fatalf("Suppressed = %d, want 104", st.Suppressed)
	}
}

// TestSamplerDue: when a flood stops, Due hands over each key's count with the
// latest suppressed attempt once its interval is over, so that every refusal
// is carried by some event even if no later attempt comes.
func TestSamplerDue(t *testing.T) {
	s := ratelimit.NewSampler(10*time.Second, 0).WithBudget(2)
	t0 := time.Unix(1_000_000, 0)
	var emitted, carried int
	for i := range 50 {
		if emit, n := s.AllowWith("a", t0.Add(time.Duration(i)*time.Millisecond), i); emit {
			emitted++
			carried += n
		}
	}
	s.Allow("b", t0.Add(time.Second)) // nothing suppressed: never due
	if got := s.Due(t0.Add(9 * time.Second)); len(got) != 0 {
		t.Fatalf("Due before the interval ended: %v", got)
	}
	got := s.Due(t0.Add(10 * time.Second))
	if len(got) != 1 || got[0].Key != "a" || got[0].Suppressed != 48 || got[0].Last != 49 {
		t.Fatalf("Due = %+v, want a with 48 suppressed, last 49", got)
	}
	if emitted != 2 || carried != 0 || emitted+got[0].Suppressed != 50 {
		t.Fatalf("%d emitted carrying %d, %d due: want 2 carrying 0 and 48 due", emitted, carried, got[0].Suppressed)
	}
	if again := s.Due(t0.Add(time.Hour)); len(again) != 0 {
		t.Fatalf("second Due = %+v, want nothing (b had nothing suppressed)", again)
	}
	if st := s.Stats(); st.Keys != 0 || st.Unreported != 0 || st.Suppressed != 48 {
		t.Fatalf("stats %+v, want no keys, nothing unreported, 48 suppressed", st)
	}
	// A key's next attempt after Due starts afresh.
	if emit, n := s.Allow("a", t0.Add(11*time.Second)); !emit || n != 0 {
		t.Fatalf("after Due: emit %v carrying %d, want a fresh event", emit, n)
	}
}

// TestSamplerDrain takes every count, interval over or not.
func TestSamplerDrain(t *testing.T) {
	s := ratelimit.NewSampler(time.Hour, 0)
	t0 := time.Unix(1_000_000, 0)
	for i := range 5 {
		s.Allow("a", t0)
		s.AllowWith("b", t0, i)
	}
	got := s.Drain()
	if fmt.Sprint(got) != "[{a 4 <nil>} {b 4 4}]" {
		t.Fatalf("Drain = %v", got)
	}
	if st := s.Stats(); st.Keys != 0 || st.Unreported != 0 {
		t.Fatalf("stats after Drain %+v", st)
	}
}
