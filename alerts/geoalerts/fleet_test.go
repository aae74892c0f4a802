package geoalerts

import (
	"testing"
	"time"
)

// TestFleet runs two stages over one store, two Caddy instances sharing a
// database, on both stores.
func TestFleet(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			store := b.open(t)

			// A login the other instance saw is not new, even while this
			// instance trusts its cached summary: it asks the store before
			// it alerts.
			t.Run("a country the other instance saw", func(t *testing.T) {
				const user = "fleet1@example.com"
				a, b := newHarness(t, store, Config{}), newHarness(t, store, Config{})
				for _, ev := range usual {
					a.deliver(ev(user))
				}
				if fs := a.observe(success(user, T.Add(-time.Hour), london, desktop), false); len(fs) != 0 {
					t.Fatalf("a: London fired %v", fs)
				}
				if fs := b.observe(success(user, T, berlin, desktop), false); len(fs) != 1 || fs[0].Kind != NewCountry {
					t.Fatalf("b: Berlin fired %v, want new_country", fs)
				}
				if fs := a.observe(success(user, T.Add(10*time.Minute), berlin, desktop), false); len(fs) != 0 {
					t.Errorf("a: Berlin again fired %s, want nothing (b saw Berlin)", *fs[0].Event.Message)
				}
			})

			// The failures the other instance saw count at once.
			t.Run("ASNs the other instance saw", func(t *testing.T) {
				const user = "fleet3@example.com"
				a, b := newHarness(t, store, Config{}), newHarness(t, store, Config{})
				for i, h := range []*harness{a, a, b, b} {
					if fs := h.observe(failure(user, T.Add(time.Duration(i)*time.Minute), int64(100+i)), false); len(fs) != 0 {
						t.Fatalf("failure %d fired %v", i, fs)
					}
				}
				if fs := a.observe(failure(user, T.Add(5*time.Minute), 200), false); len(fs) != 1 || fs[0].Kind != ManyASNs {
					t.Errorf("a: the fifth ASN fired %v, want many_asns", fs)
				}
			})

			// An ALERT the other instance stored holds the rule back for
			// its cooldown.
			t.Run("the other instance's alert", func(t *testing.T) {
				const user = "fleet2@example.com"
				a, b := newHarness(t, store, Config{}), newHarness(t, store, Config{})
				a.storeAlerts, b.storeAlerts = true, true
				for _, ev := range usual {
					a.deliver(ev(user))
				}
				if fs := a.observe(success(user, T, berlin, desktop), false); len(fs) != 1 || fs[0].Kind != NewCountry {
					t.Fatalf("a: Berlin fired %v, want new_country", fs)
				}
				if fs := b.observe(success(user, T.Add(10*time.Minute), italy, desktop), false); len(fs) != 0 {
					t.Errorf("b: Italy fired %s, want nothing (a alerted 10 minutes before)", *fs[0].Event.Message)
				}
				if fs := b.observe(success(user, T.Add(70*time.Minute), spain, desktop), false); len(fs) != 1 || fs[0].Kind != NewCountry {
					t.Errorf("b: Spain after the cooldown fired %v, want new_country", fs)
				}
			})
		})
	}
}
