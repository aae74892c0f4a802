package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// TestFleetAlerts: three Caddy instances on one Redis, an attack spread over
// them round-robin: each alert rule fires once for the fleet, at its
// threshold, with the fleet's count (one instance alone sees a third of it).
func TestFleetAlerts(t *testing.T) {
	srv := redistest.StartServer(t)
	cf := config{Global: trustXFF, App: "state redis://" + srv.Addr + "\nalerts", Handler: `lockout {
			max_failures 50
		}`}.String()
	s := newStack(t, stackOptions{Caddyfile: cf})
	ins := []*instance{{url: s.url, events: s.events}, s.addInstance(), s.addInstance()}
	n := 0
	post := func(ip, email string) {
		t.Helper()
		in := ins[n%len(ins)]
		n++
		s.url = in.url
		s.post("/api/login", "application/json", fmt.Sprintf(`{"email":%q,"password":"guess"}`, email), "X-Forwarded-For", ip)
	}
	for range 12 { // ip_failures at 10
		post("203.0.113.9", "disabled@example.com")
	}
	for i := range 6 { // credential_stuffing at 5 accounts
		post("198.51.100.7", fmt.Sprintf("nobody%d@example.org", i))
	}
	for i := range 6 { // distributed_attack at 5 IPs
		post(fmt.Sprintf("10.0.0.%d", i+1), "waiting@example.com")
	}
	s.url = ins[0].url

	want := map[string]string{
		"ip_failures":         "alert rule=ip_failures subject=203.0.113.9 count=10 ",
		"credential_stuffing": "alert rule=credential_stuffing subject=198.51.100.7 count=5 ",
		"distributed_attack":  "alert rule=distributed_attack subject=waiting@example.com count=5 ",
	}
	var alerts []event.Event
	deadline := time.Now().Add(20 * time.Second)
	for {
		alerts = alerts[:0]
		logins := 0
		for _, in := range ins {
			for _, e := range readEventsFrom(t, in.events) {
				switch e.EventType {
				case event.Alert:
					alerts = append(alerts, e)
				case event.LoginFailure:
					logins++
				}
			}
		}
		if logins == n && len(alerts) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A late duplicate would come within a flush (20 ms): give it time.
	time.Sleep(500 * time.Millisecond)
	alerts = alerts[:0]
	for _, in := range ins {
		alerts = append(alerts, byType(readEventsFrom(t, in.events), event.Alert)...)
	}
	if len(alerts) != len(want) {
		for _, a := range alerts {
			t.Log(event.Value(a.Message))
		}
		t.Fatalf("%d ALERT events across the three instances, want %d (one per rule)", len(alerts), len(want))
	}
	checkAlerts(t, alerts, want)
}
