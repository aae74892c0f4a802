package redisstate_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/redisstate"
	"github.com/loginguard/loginguard/state/statetest"
)

// TestFastPathValues: the scripts' fast paths (no account value, or one with
// only a window, failures and a slot) write the values that the general code
// reads and writes, with the same time to live, and hand over to it.
func TestFastPathValues(t *testing.T) {
	requireShared(t)
	prefix := randomPrefix(t)
	dropPrefix(t, prefix)
	start := time.UnixMilli(1767225600000)
	clock := statetest.NewClock(start)
	s := open(t, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix, Options: state.Options{Now: clock.Now}})
	c := redis.NewClient(&redis.Options{Addr: sharedAddr})
	defer c.Close()
	ctx := context.Background()
	key, _ := s.Keys("fast")
	ms := func() string { return strconv.FormatInt(clock.Now().UnixMilli(), 10) }
	check := func(step, want string, ttl time.Duration) {
		t.Helper()
		v, err := c.Get(ctx, key).Result()
		if want == "" {
			if err != redis.Nil {
				t.Fatalf("%s: value %q, %v; want none", step, v, err)
			}
			return
		}
		if err != nil || v != want {
			t.Fatalf("%s: value %q, %v; want %q", step, v, err, want)
		}
		got, err := c.PTTL(ctx, key).Result()
		if err != nil || got > ttl || got < ttl-2*time.Second {
			t.Fatalf("%s: ttl %v, %v; want about %v", step, got, err, ttl)
		}
	}
	p := testPolicy // 5 failures in 15 minutes
	at := state.Attempt{Account: "fast"}
	admit := func(step string) string {
		t.Helper()
		adm, err := s.Admit(ctx, at, p)
		if err != nil || !adm.Allowed {
			t.Fatalf("%s: Admit = %+v, %v", step, adm, err)
		}
		return adm.Slot
	}
	finish := func(step, slot string, o state.Outcome) state.Result {
		t.Helper()
		r, err := s.Finish(ctx, at, slot, o, p)
		if err != nil {
			t.Fatalf("%s: Finish: %v", step, err)
		}
		return r
	}

	slot := admit("fresh admit")
	slotEnd := strconv.FormatInt(clock.Now().Add(time.Minute).UnixMilli(), 10)
	check("fresh admit", "w=900000 s="+slot+":"+slotEnd, 2*time.Minute)
	finish("uncounted", slot, state.Uncounted)
	check("uncounted", "", 0)

	// Two in flight: the first one's uncounted outcome leaves the second's slot.
	slot = admit("first in flight")
	clock.Advance(time.Second)
	slot2 := admit("second in flight")
	slotEnd = strconv.FormatInt(clock.Now().Add(time.Minute).UnixMilli(), 10)
	finish("first of two, uncounted", slot, state.Uncounted)
	check("first of two, uncounted", "w=900000 s="+slot2+":"+slotEnd, 2*time.Minute)
	finish("second of two, uncounted", slot2, state.Uncounted)
	check("second of two, uncounted", "", 0)

	slot = admit("admit")
	f1 := ms()
	if r := finish("failure", slot, state.CountedFailure); r.Failures != 1 || r.Locked {
		t.Fatalf("failure: %+v", r)
	}
	check("failure", "w=900000 f="+f1, 16*time.Minute)

	clock.Advance(time.Second)
	slot = admit("admit with a failure")
	slotEnd = strconv.FormatInt(clock.Now().Add(time.Minute).UnixMilli(), 10)
	check("admit with a failure", "w=900000 f="+f1+" s="+slot+":"+slotEnd, 16*time.Minute-time.Second)
	f2 := ms()
	if r := finish("second failure", slot, state.CountedFailure); r.Failures != 2 {
		t.Fatalf("second failure: %+v", r)
	}
	check("second failure", "w=900000 f="+f1+","+f2, 16*time.Minute)

	clock.Advance(time.Second)
	slot = admit("admit, uncounted")
	finish("uncounted with failures", slot, state.Uncounted)
	check("uncounted with failures", "w=900000 f="+f1+","+f2, 16*time.Minute-time.Second)

	// Three more failures lock the account (the general code), which Admit
	// then refuses.
	for i := range 3 {
		clock.Advance(time.Second)
		slot = admit("failure " + strconv.Itoa(i+3))
		finish("failure "+strconv.Itoa(i+3), slot, state.CountedFailure)
	}
	if adm, err := s.Admit(ctx, at, p); err != nil || adm.Allowed || !adm.Locked || adm.Failures != 5 {
		t.Fatalf("Admit after 5 failures = %+v, %v", adm, err)
	}
	clock.Advance(p.LockDuration)
	slot = admit("after the lock")
	finish("success", slot, state.Success)
	st, err := s.Status(ctx, "fast")
	if err != nil || st.Failures != 0 || st.Locked || st.LockLevel != 0 {
		t.Fatalf("Status after the lock and a success = %+v, %v", st, err)
	}

	// With prefixes: the slot names the prefix, a success makes it known.
	at = state.Attempt{Account: "fast-prefix", Prefix: "198.51.100.0/24"}
	key, _ = s.Keys(at.Account)
	p = prefixPolicy
	slot = admit("prefix admit")
	slotEnd = strconv.FormatInt(clock.Now().Add(time.Minute).UnixMilli(), 10)
	check("prefix admit", "w=900000 s="+slot+":"+slotEnd+"@198.51.100.0/24", 2*time.Minute)
	finish("prefix success", slot, state.Success)
	knownEnd := strconv.FormatInt(clock.Now().Add(p.KnownPrefixTTL).UnixMilli(), 10)
	check("prefix success", "w=900000 k=198.51.100.0/24|"+knownEnd, p.KnownPrefixTTL+time.Minute)
	adm, err := s.Admit(ctx, at, p)
	if err != nil || !adm.Allowed || !adm.KnownPrefix {
		t.Fatalf("Admit from a known prefix = %+v, %v", adm, err)
	}
}
