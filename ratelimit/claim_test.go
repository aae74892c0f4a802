package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// trips counts the round trips of a client (a command or a pipeline each),
// but not the handshakes of new connections.
type trips struct{ n atomic.Int64 }

func (t *trips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (t *trips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if handshake(cmd) {
			return next(ctx, cmd)
		}
		t.n.Add(1)
		return next(ctx, cmd)
	}
}
func (t *trips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if handshake(cmds[0]) {
			return next(ctx, cmds)
		}
		t.n.Add(1)
		return next(ctx, cmds)
	}
}

// handshake reports whether cmd is one of a new connection's handshake
// (HELLO, CLIENT ...).
func handshake(cmd redis.Cmder) bool { return cmd.Name() == "hello" || cmd.Name() == "client" }

// fleetSamplers returns n samplers of one fleet: claims on c under one prefix.
func fleetSamplers(t *testing.T, n int, c redis.UniversalClient, prefix string, interval time.Duration, budget int) []*ratelimit.Sampler {
	t.Helper()
	var ss []*ratelimit.Sampler
	for range n {
		cl, err := ratelimit.NewRedisClaimer(c, prefix)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, ratelimit.NewSampler(interval, 0).WithBudget(budget).WithClaimer(cl, time.Second))
	}
	return ss
}

// TestSamplerFleetBudget: three samplers of one fleet, a flood spread
// round-robin over them within one interval: the fleet emits the budget once
// (not once per instance), every suppressed attempt is still counted by some
// sampler, and the claims cost one round trip per attempt that a sampler
// would have emitted alone, none for the others.
func TestSamplerFleetBudget(t *testing.T) {
	for _, budget := range []int{1, 3} {
		c := sharedClient(t)
		prefix := randomPrefix(t, c)
		ss := fleetSamplers(t, 3, c, prefix, time.Minute, budget)
		// Redis learns the claim script first, so that no EVAL is counted.
		warm, _ := ratelimit.NewRedisClaimer(c, prefix+"warm-up:")
		if err := warm.Claim(t.Context(), []string{"k"}, budget, time.Second, make([]bool, 1)); err != nil {
			t.Fatal(err)
		}
		var rt trips
		c.AddHook(&rt)
		now := time.Now()
		emitted, carried := 0, 0
		const attempts = 300
		for i := range attempts {
			if emit, n := ss[i%3].AllowWith("ip:192.0.2.1/32", now, i); emit {
				emitted++
				carried += n
			}
		}
		if emitted != budget || carried != 0 {
			t.Fatalf("budget %d: %d events carrying %d, want %d carrying 0", budget, emitted, carried, budget)
		}
		// Each sampler claims until it loses once or has used the budget
		// alone. Budget 1: the first wins, the two others lose. Budget 3:
		// each wins one, then each loses one.
		want := map[int]int{1: 3, 3: 6}[budget]
		if n := rt.n.Load(); n != int64(want) {
			t.Fatalf("budget %d: %d round trips for %d attempts, want %d", budget, n, attempts, want)
		}
		held := 0
		for _, s := range ss {
			for _, p := range s.Drain() {
				held += p.Suppressed
			}
		}
		if emitted+held != attempts {
			t.Fatalf("budget %d: %d emitted and %d held by the samplers, want %d in all", budget, emitted, held, attempts)
		}
	}
}

// TestSamplerFleetFlood: a flood over three samplers of one fleet for a few
// intervals, with each sampler's Due called as the Caddy module does: the
// fleet stores about one event per interval (at most one per interval of the
// shared claim, plus the last reports of Drain), not three, and every attempt
// is carried by some event.
func TestSamplerFleetFlood(t *testing.T) {
	c := sharedClient(t)
	const interval = 300 * time.Millisecond
	ss := fleetSamplers(t, 3, c, randomPrefix(t, c), interval, 1)
	var mu sync.Mutex
	events, counted := 0, 0 // events stored, attempts they carry
	store := func(ps []ratelimit.Pending) {
		mu.Lock()
		for _, p := range ps {
			events++
			counted += p.Suppressed
		}
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Go(func() {
			tick := time.NewTicker(interval / 4)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case now := <-tick.C:
					store(s.Due(now))
				}
			}
		})
	}
	start := time.Now()
	attempts := 0
	for time.Since(start) < 5*interval {
		if emit, n := ss[attempts%3].Allow("route:", time.Now()); emit {
			store([]ratelimit.Pending{{Suppressed: n + 1}}) // the event carries itself and n more
		}
		attempts++
		time.Sleep(200 * time.Microsecond)
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	during := events
	for _, s := range ss {
		store(s.Drain())
	}
	// Claims expire one interval after they are made: at most one event per
	// started interval, and a last one per sampler from Drain.
	most := int(elapsed/interval) + 2
	if during > most || during < 2 {
		t.Fatalf("%d events in %v of flood (interval %v), want 2 to %d", during, elapsed, interval, most)
	}
	if counted != attempts {
		t.Fatalf("%d attempts, %d carried by events", attempts, counted)
	}
	t.Logf("%d attempts in %v: %d events during the flood, %d in all", attempts, elapsed, during, events)
}

// TestSamplerClaimRedisDown: with its Redis gone, a sampler emits as if it
// were alone, and after a failed claim asks Redis nothing for a second.
func TestSamplerClaimRedisDown(t *testing.T) {
	srv := redistest.StartServer(t)
	c := newClient(t, srv.Addr)
	var rt trips
	c.AddHook(&rt)
	s := fleetSamplers(t, 1, c, "lgtest:down:", time.Minute, 1)[0]
	srv.Kill()
	now := time.Now()
	if emit, _ := s.Allow("a", now); !emit {
		t.Fatal("first attempt of a suppressed while Redis is down")
	}
	if emit, _ := s.Allow("a", now); emit {
		t.Fatal("second attempt of a emitted: the sampler's own budget holds")
	}
	start := time.Now()
	if emit, _ := s.Allow("b", now); !emit {
		t.Fatal("first attempt of b suppressed while Redis is down")
	}
	if d := time.Since(start); d > 100*time.Millisecond || rt.n.Load() != 1 {
		t.Fatalf("second claim took %v, %d round trips: want no new one within a second", d, rt.n.Load())
	}
	srv.Restart()
	time.Sleep(1100 * time.Millisecond)
	if emit, _ := s.Allow("c", now); !emit || rt.n.Load() != 2 {
		t.Fatalf("after Redis came back: emit %v, %d round trips", emit, rt.n.Load())
	}
}

// TestSamplerFleetDue: when a flood stops, a sampler's count is due, but it
// is reported only when its claim is won: while another instance's claim of
// the key holds, the count waits (nothing is lost), and the next Due after
// the claim ended reports it.
func TestSamplerFleetDue(t *testing.T) {
	c := sharedClient(t)
	prefix := randomPrefix(t, c)
	ss := fleetSamplers(t, 2, c, prefix, 10*time.Second, 1)
	a, b := ss[0], ss[1]
	t0 := time.Now()
	if emit, _ := a.Allow("k", t0); !emit {
		t.Fatal("a's first attempt suppressed")
	}
	for i := range 5 {
		if emit, _ := b.AllowWith("k", t0, i); emit {
			t.Fatal("b emitted while a's claim holds")
		}
	}
	if got := b.Due(t0.Add(10 * time.Second)); len(got) != 0 {
		t.Fatalf("b's Due while a's claim holds: %+v, want nothing", got)
	}
	if st := b.Stats(); st.Keys != 1 || st.Unreported != 0 {
		t.Fatalf("b's stats %+v: want its count kept", st)
	}
	// a's claim ends (its interval is over in Redis).
	if err := c.Del(t.Context(), prefix+"k").Err(); err != nil {
		t.Fatal(err)
	}
	got := b.Due(t0.Add(20 * time.Second))
	if len(got) != 1 || got[0].Suppressed != 5 || got[0].Last != 4 {
		t.Fatalf("b's Due after a's claim ended: %+v, want k with 5, last 4", got)
	}
}
