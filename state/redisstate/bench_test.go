package redisstate_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/redisstate"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// roundTrips is a go-redis hook that counts what goes over the wire: one per
// command, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (*roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// attempt admits one attempt on account and finishes it with o; it reports
// whether the attempt was admitted.
func attempt(tb testing.TB, s state.Store, account string, o state.Outcome) bool {
	ctx := context.Background()
	adm, err := s.Admit(ctx, state.Attempt{Account: account}, testPolicy)
	if err != nil {
		tb.Fatalf("Admit: %v", err)
	}
	if !adm.Allowed {
		return false
	}
	if _, err := s.Finish(ctx, state.Attempt{Account: account}, adm.Slot, o, testPolicy); err != nil {
		tb.Fatalf("Finish: %v", err)
	}
	return true
}

// cmdStat is one line of INFO commandstats.
type cmdStat struct{ calls, usec int64 }

// commandStats returns INFO commandstats by command.
func commandStats(t *testing.T, c *redis.Client) map[string]cmdStat {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	out := map[string]cmdStat{}
	for line := range strings.SplitSeq(info, "\r\n") {
		name, rest, ok := strings.Cut(line, ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		var st cmdStat
		for field := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			var err error
			switch k {
			case "calls":
				st.calls, err = strconv.ParseInt(v, 10, 64)
			case "usec":
				st.usec, err = strconv.ParseInt(v, 10, 64)
			}
			if err != nil {
				t.Fatalf("INFO commandstats: %q", line)
			}
		}
		out[name] = st
	}
	return out
}

// TestRoundTrips: a login attempt costs exactly two round trips (Admit, Finish)
// once the scripts are cached; the Redis commands they run are logged.
func TestRoundTrips(t *testing.T) {
	srv := redistest.StartServer(t)
	s := open(t, redisstate.Options{URL: "redis://" + srv.Addr})
	hook := &roundTrips{}
	s.AddHook(hook)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1})
	defer c.Close()

	// Warm up: load the scripts (EVALSHA fails once, then EVAL).
	attempt(t, s, "warm", state.CountedFailure)
	attempt(t, s, "warm", state.Success)

	const n = 1000
	outcomes := []state.Outcome{state.Success, state.CountedFailure, state.Uncounted, state.Success}
	hook.n.Store(0)
	before := commandStats(t, c)
	for i := range n {
		account := "user-" + strconv.Itoa(i%50)
		if !attempt(t, s, account, outcomes[i%len(outcomes)]) {
			t.Fatalf("attempt %d on %s refused", i, account)
		}
	}
	after := commandStats(t, c)
	if got := hook.n.Load(); got != 2*n {
		t.Fatalf("%d attempts took %d round trips, want %d", n, got, 2*n)
	}
	var total int64
	var parts []string
	for name, st := range after {
		d := st.calls - before[name].calls
		if name == "info" || d == 0 {
			continue
		}
		total += d
		parts = append(parts, name+"="+strconv.FormatFloat(float64(d)/n, 'f', 2, 64))
	}
	sort.Strings(parts)
	evalsha := after["evalsha"].calls - before["evalsha"].calls
	usec := after["evalsha"].usec - before["evalsha"].usec
	t.Logf("per attempt: 2 round trips, %.2f Redis commands (INFO commandstats: %s), %.1fµs of Redis time",
		float64(total)/n, strings.Join(parts, " "), float64(usec)/n)
	if evalsha != 2*n {
		t.Fatalf("EVALSHA calls = %d, want %d", evalsha, 2*n)
	}
}

// BenchmarkRedisAdmitFinish runs Admit + Finish on the shared Redis, from
// parallel goroutines over 65,536 accounts, a quarter of the attempts failing.
func BenchmarkRedisAdmitFinish(b *testing.B) {
	requireShared(b)
	prefix := randomPrefix(b)
	dropPrefix(b, prefix)
	s := open(b, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix})
	hook := &roundTrips{}
	s.AddHook(hook)
	const accounts = 1 << 16
	names := make([]string, accounts)
	for i := range names {
		names[i] = "user-" + strconv.Itoa(i)
	}
	attempt(b, s, "warm", state.Success) // load the scripts
	var seed, attempts atomic.Uint64
	hook.n.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		for pb.Next() {
			r := rng.Uint64()
			o := state.Success
			if r>>32%4 == 0 {
				o = state.CountedFailure
			}
			if attempt(b, s, names[r%accounts], o) {
				attempts.Add(1)
			}
		}
	})
	b.StopTimer()
	if a := attempts.Load(); a > 0 {
		b.ReportMetric(float64(hook.n.Load())/float64(a), "roundtrips/attempt")
	}
}

// BenchmarkGatewayPattern runs attempts as the gateway makes them: Admit,
// the portal's answer (a 200 µs wait), then FinishAsync of an uncounted
// failure (one attempt in 256 a success), from 64 goroutines per CPU over
// 5,000 accounts. Besides the time per attempt it reports the CPU per attempt
// of this process (the gateway's side: go-redis, the batcher, wake-ups) and of
// the Redis server (INFO cpu), the figures that decide throughput on a box
// that runs both.
func BenchmarkGatewayPattern(b *testing.B) {
	requireShared(b)
	prefix := randomPrefix(b)
	dropPrefix(b, prefix)
	s := open(b, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix})
	c := redis.NewClient(&redis.Options{Addr: sharedAddr})
	defer c.Close()
	names := make([]string, 5000)
	for i := range names {
		names[i] = "user-" + strconv.Itoa(i)
	}
	attempt(b, s, "warm", state.Success) // load the scripts
	ctx := context.Background()
	var seq atomic.Uint64
	var pending sync.WaitGroup
	redis0, self0 := redisCPU(b, c), processCPU()
	b.ResetTimer()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			at := state.Attempt{Account: names[n%uint64(len(names))]}
			adm, err := s.Admit(ctx, at, testPolicy)
			if err != nil || !adm.Allowed {
				b.Errorf("Admit: %+v %v", adm, err)
				return
			}
			time.Sleep(200 * time.Microsecond)
			o := state.Uncounted
			if n%256 == 0 {
				o = state.Success
			}
			pending.Add(1)
			s.FinishAsync(ctx, at, adm.Slot, o, testPolicy, func(err error) {
				if err != nil {
					b.Errorf("FinishAsync: %v", err)
				}
				pending.Done()
			})
		}
	})
	pending.Wait()
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-self0)/float64(b.N)/1e3, "client-cpu-µs/attempt")
	b.ReportMetric(float64(redisCPU(b, c)-redis0)/float64(b.N)/1e3, "redis-cpu-µs/attempt")
}

// processCPU is this process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the Redis server's user and system CPU time (INFO cpu).
func redisCPU(tb testing.TB, c *redis.Client) time.Duration {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		tb.Fatalf("INFO cpu: %v", err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * 1e9)
}
