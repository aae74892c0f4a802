package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

func TestLockedEventsJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want LockedEvents
		err  string
	}{
		{`{"locked_events": 3}`, 3, ""},
		{`{"locked_events": "all"}`, LockedEventsAll, ""},
		{`{}`, 0, ""},
		{`{"locked_events": 0}`, 0, `lockout locked_events: want a number ≥ 1 or "all", got 0`},
		{`{"locked_events": "some"}`, 0, `lockout locked_events: want a number ≥ 1 or "all", got "some"`},
	} {
		var l Lockout
		err := json.Unmarshal([]byte(tc.in), &l)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || l.LockedEvents != tc.want {
			t.Errorf("%s: got %d, %v; want %d", tc.in, l.LockedEvents, err, tc.want)
			continue
		}
		out, _ := json.Marshal(l)
		var back Lockout
		if err := json.Unmarshal(out, &back); err != nil || back.LockedEvents != tc.want {
			t.Errorf("%s: round trip %s gave %d, %v", tc.in, out, back.LockedEvents, err)
		}
	}
}

// TestLockedEventsBudget: a locked account's refusals are stored up to its
// budget per interval, each account with its own; every one is refused.
func TestLockedEventsBudget(t *testing.T) {
	for _, tc := range []struct {
		cfg  string
		want map[string]int
	}{
		// 3 each, then the last report carries the rest (stopFlush below).
		{`{"lockout":{"locked_events":3},"sample_interval":3600000000000}`, map[string]int{"a@x.org": 4, "b@x.org": 4}},
		{`{"lockout":{"locked_events":"all"}}`, map[string]int{"a@x.org": 99, "b@x.org": 8}},
	} {
		sink := new(captured)
		h := provisioned(t, tc.cfg, connectors.Named{Name: "c", Connector: sink})
		ctx := context.Background()
		for _, acc := range []string{"a@x.org", "b@x.org"} {
			if err := h.app.Store().Lock(ctx, AccountKey("", acc), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 107 {
			acc := "a@x.org"
			if i%15 == 0 {
				acc = "b@x.org"
			}
			r := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"email":"`+acc+`","password":"x"}`))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			if err := h.Serve(w, r, portalStub{ok: true}); err != nil {
				t.Fatal(err)
			}
			if w.Code != 401 {
				t.Fatalf("attempt %d on %s: status %d, want 401", i, acc, w.Code)
			}
		}
		h.stopFlush()
		h.pipe.Close(ctx)
		got, refused := map[string]int{}, map[string]int{}
		for _, e := range sink.evs {
			if e.Reason == event.Locked {
				got[str(e.Email)]++
				refused[str(e.Email)] += 1 + moreRefused(t, *e.Message)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: LOCKED events per account %v, want %v", tc.cfg, got, tc.want)
		}
		// The events account for every refusal: 99 on a, 8 on b.
		if want := map[string]int{"a@x.org": 99, "b@x.org": 8}; fmt.Sprint(refused) != fmt.Sprint(want) {
			t.Errorf("%s: refusals carried by the events %v, want %v", tc.cfg, refused, want)
		}
	}
}

// moreRefusedRE reads the count a sampled event's message carries.
var moreRefusedRE = regexp.MustCompile(`\((\d+) more refused (?:on this account|under \w+) since the last event\)$`)

// moreRefused returns how many more refusals a sampled event's message carries
// (0 when it carries none).
func moreRefused(t *testing.T, msg string) int {
	t.Helper()
	m := moreRefusedRE.FindStringSubmatch(msg)
	if m == nil {
		if strings.Contains(msg, "more refused") {
			t.Fatalf("unreadable count in %q", msg)
		}
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
