package geoalerts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/postgres"
	"github.com/loginguard/loginguard/logstore/sqlite"
)

// backend opens a fresh, empty real store for a test.
type backend struct {
	name string
	open func(t testing.TB) logstore.Store
}

// pgDSN is the test database: the real PostgreSQL, trust auth, as the
// log store's own tests use it. Missing is a failure.
func pgDSN() string {
	if v := os.Getenv("LOGINGUARD_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

var schemas atomic.Int64

var backends = []backend{
	{"sqlite", func(t testing.TB) logstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "log.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(t testing.TB) logstore.Store {
		schema := fmt.Sprintf("geoalerts_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, schemas.Add(1))
		s, err := postgres.Open(context.Background(), pgDSN(), postgres.Options{Schema: schema})
		if err != nil {
			t.Fatalf("PostgreSQL at %s is required: %v", pgDSN(), err)
		}
		t.Cleanup(func() {
			s.Close()
			if err := postgres.DropSchema(context.Background(), pgDSN(), schema); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
		return s
	}},
}

// city is where a login comes from.
type city struct {
	event.Geo
}

var (
	london = city{event.Geo{Country: "GB", City: "London", Latitude: 51.5074, Longitude: -0.1278, AccuracyRadius: 20, ASN: 2856}}
	paris  = city{event.Geo{Country: "FR", City: "Paris", Latitude: 48.8566, Longitude: 2.3522, AccuracyRadius: 20, ASN: 3215}}
	sydney = city{event.Geo{Country: "AU", City: "Sydney", Latitude: -33.8688, Longitude: 151.2093, AccuracyRadius: 20, ASN: 1221}}
	berlin = city{event.Geo{Country: "DE", City: "Berlin", Latitude: 52.52, Longitude: 13.405, AccuracyRadius: 20, ASN: 3320}}
	// Italy and Spain are known by their country only (no impossible
	// travel from Berlin).
	italy = city{event.Geo{Country: "IT", ASN: 3269}}
	spain = city{event.Geo{Country: "ES", ASN: 3352}}
	// The same two cities as a GeoIP database places a mobile network:
	// somewhere within 200 km.
	londonVague = city{event.Geo{Country: "GB", Latitude: 51.5, Longitude: -0.13, AccuracyRadius: 200, ASN: 12576}}
	parisVague  = city{event.Geo{Country: "FR", Latitude: 48.86, Longitude: 2.35, AccuracyRadius: 200, ASN: 15557}}
	// australia is a country without coordinates; nowhere is an address no
	// database knows (a private one).
	australia = city{event.Geo{Country: "AU", ASN: 1221}}
	nowhere   = city{}
)

var (
	desktop = event.Device{Browser: "Chrome", OS: "Windows", DeviceType: event.DeviceDesktop}
	iphone  = event.Device{Browser: "Safari", OS: "iOS", DeviceType: event.DeviceMobile}
)

// success is a successful login of user (an email) at from c with d.
func success(user string, at time.Time, c city, d event.Device) event.Event {
	return event.Event{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str(user), EventDate: at,
		EventType: event.LoginSuccess, RemoteAddress: "192.0.2.1", Geo: c.Geo, Device: d, PortalID: event.Str("p1")}
}

// failure is a wrong password for user at from an address of asn.
func failure(user string, at time.Time, asn int64) event.Event {
	ev := success(user, at, nowhere, desktop)
	ev.EventType, ev.Reason, ev.ASN = event.LoginFailure, event.BadCredentials, asn
	ev.Message, ev.ErrorType = event.Str("Authentication failed -> BAD_CREDENTIALS"), event.Str("BadCredentials")
	return ev
}

// harness is a started stage over a store, fed as the pipeline feeds it:
// every event observed is also written to the store, before or after the
// stage judges it.
type harness struct {
	t     *testing.T
	store logstore.Store
	st    *Stage
	// storeAlerts writes the stage's ALERT events to the store, as the
	// pipeline does.
	storeAlerts bool

	mu    sync.Mutex
	found []connectors.Finding
}

func newHarness(t *testing.T, store logstore.Store, cfg Config) *harness {
	t.Helper()
	st, err := New(store, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, st: st}
	st.Start(func(fs []connectors.Finding) {
		h.mu.Lock()
		h.found = append(h.found, fs...)
		h.mu.Unlock()
	})
	t.Cleanup(func() { st.Close() })
	return h
}

func (h *harness) deliver(evs ...event.Event) {
	h.t.Helper()
	if len(evs) == 0 {
		return
	}
	if err := h.store.Deliver(context.Background(), evs); err != nil {
		h.t.Fatal(err)
	}
}

// observe shows ev to the stage, waits until it has judged it, and returns
// its findings. With storedFirst, ev is in the store before the stage sees
// it; otherwise after it judged it.
func (h *harness) observe(ev event.Event, storedFirst bool) []connectors.Finding {
	h.t.Helper()
	if storedFirst {
		h.deliver(ev)
	}
	h.mu.Lock()
	before := len(h.found)
	h.mu.Unlock()
	n := h.st.Stats().Processed
	if h.st.wants(&ev) {
		h.st.Observe(ev, time.Now())
		deadline := time.Now().Add(30 * time.Second)
		for h.st.Stats().Processed == n {
			if time.Now().After(deadline) {
				h.t.Fatalf("the stage did not judge the event within 30 s: %+v", h.st.Stats())
			}
			time.Sleep(time.Millisecond)
		}
	}
	if !storedFirst {
		h.deliver(ev)
	}
	h.mu.Lock()
	fs := slices.Clone(h.found[before:])
	h.mu.Unlock()
	if h.storeAlerts {
		for _, f := range fs {
			h.deliver(f.Event)
		}
	}
	return fs
}

// step is one event shown to the stage and the rules it must fire.
type step struct {
	ev   func(user string) event.Event
	want []string
}

func ok(ev func(string) event.Event) step { return step{ev: ev} }

func fires(ev func(string) event.Event, rules ...string) step { return step{ev: ev, want: rules} }

// T is "now" in the scenarios: recent, as the stores expect.
var T = time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)

func succ(d time.Duration, c city, dev event.Device) func(string) event.Event {
	return func(u string) event.Event { return success(u, T.Add(d), c, dev) }
}

func fail(d time.Duration, asn int64) func(string) event.Event {
	return func(u string) event.Event { return failure(u, T.Add(d), asn) }
}

// usual is the history of most scenarios: successes from one desktop in
// London, Paris and Sydney over the last month.
var usual = []func(string) event.Event{
	succ(-30*24*time.Hour, sydney, desktop),
	succ(-10*24*time.Hour, paris, desktop),
	succ(-3*24*time.Hour, london, desktop),
	succ(-24*time.Hour, london, desktop),
}

const day = 24 * time.Hour

var scenarios = []struct {
	name    string
	history []func(string) event.Event
	steps   []step
}{
	{"new country", usual, []step{fires(succ(0, berlin, desktop), NewCountry)}},
	{"new device class", usual, []step{fires(succ(0, london, iphone), NewDevice)}},
	{"impossible travel London to Sydney 1h apart", usual, []step{
		ok(succ(-time.Hour, london, desktop)),
		fires(succ(0, sydney, desktop), ImpossibleTravel)}},
	{"failures from 5 ASNs", nil, []step{
		ok(fail(0, 100)), ok(fail(time.Minute, 100)), ok(fail(2*time.Minute, 200)), ok(fail(3*time.Minute, 300)),
		ok(fail(4*time.Minute, 300)), ok(fail(5*time.Minute, 400)), ok(fail(6*time.Minute, 400)),
		fires(fail(7*time.Minute, 500), ManyASNs),
		ok(fail(8*time.Minute, 600)), // cooldown
	}},
	{"same country and device again", usual, []step{
		ok(succ(0, london, desktop)), ok(succ(time.Hour, london, desktop)), ok(succ(2*time.Hour, paris, desktop))}},
	{"London to Paris 5h apart", usual, []step{
		ok(succ(-5*time.Hour, london, desktop)), ok(succ(0, paris, desktop))}},
	{"London to Paris 10m apart within the accuracy radii", usual, []step{
		ok(succ(-10*time.Minute, londonVague, desktop)), ok(succ(0, parisVague, desktop))}},
	{"first-ever login", nil, []step{ok(succ(0, berlin, iphone))}},
	{"earlier logins older than the history only", []func(string) event.Event{succ(-100*day, london, desktop)},
		[]step{ok(succ(0, berlin, iphone))}},
	{"a country last seen before the history is new", []func(string) event.Event{
		succ(-100*day, berlin, desktop), succ(-2*day, london, desktop)},
		[]step{fires(succ(0, berlin, desktop), NewCountry)}},
	{"unknown location", usual, []step{
		ok(succ(-30*time.Minute, london, desktop)), ok(succ(0, nowhere, desktop)), ok(succ(5*time.Minute, australia, desktop))}},
	{"failures from 4 ASNs and from unknown ones", nil, []step{
		ok(fail(0, 100)), ok(fail(time.Minute, 200)), ok(fail(2*time.Minute, 300)), ok(fail(3*time.Minute, 400)),
		ok(fail(4*time.Minute, 0)), ok(fail(5*time.Minute, 0))}},
	{"failures from 5 ASNs over more than the window", nil, []step{
		ok(fail(-2*time.Hour, 100)), ok(fail(-90*time.Minute, 200)), ok(fail(0, 300)), ok(fail(time.Minute, 400)),
		ok(fail(2*time.Minute, 500))}},
	{"new_country cooldown", usual, []step{
		fires(succ(-2*time.Hour, berlin, desktop), NewCountry),
		ok(succ(-90*time.Minute, italy, desktop)),
		fires(succ(0, spain, desktop), NewCountry)}},
	{"new_device cooldown", usual, []step{
		fires(succ(-2*time.Hour, london, iphone), NewDevice),
		ok(succ(-90*time.Minute, london, event.Device{Browser: "Firefox", OS: "Linux", DeviceType: event.DeviceDesktop})),
		fires(succ(0, london, event.Device{Browser: "Chrome", OS: "Android", DeviceType: event.DeviceMobile}), NewDevice)}},
	{"impossible_travel cooldown", usual, []step{
		ok(succ(-3*time.Hour, london, desktop)),
		fires(succ(-2*time.Hour, sydney, desktop), ImpossibleTravel),
		ok(succ(-90*time.Minute, london, desktop)),
		fires(succ(0, sydney, desktop), ImpossibleTravel)}},
	{"many_asns cooldown", nil, []step{
		ok(fail(0, 1)), ok(fail(time.Minute, 2)), ok(fail(2*time.Minute, 3)), ok(fail(3*time.Minute, 4)),
		fires(fail(4*time.Minute, 5), ManyASNs),
		ok(fail(30*time.Minute, 6)), ok(fail(40*time.Minute, 7)),
		ok(fail(2*time.Hour, 11)), ok(fail(2*time.Hour+time.Minute, 12)), ok(fail(2*time.Hour+2*time.Minute, 13)),
		ok(fail(2*time.Hour+3*time.Minute, 14)),
		fires(fail(2*time.Hour+4*time.Minute, 15), ManyASNs)}},
}

// TestRules runs every scenario on both stores, with the event judged
// stored before or after the stage sees it, and with the cache trusted for
// its default minute or never (every event reads the store): the alerts are
// the same.
func TestRules(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			store := b.open(t)
			n := 0
			for _, cache := range []struct {
				name string
				ttl  time.Duration
			}{{"cached", 0}, {"uncached", time.Nanosecond}} {
				for _, storedFirst := range []bool{false, true} {
					for _, sc := range scenarios {
						n++
						name := fmt.Sprintf("%s/stored_first=%v/%s", cache.name, storedFirst, sc.name)
						user := fmt.Sprintf("User%d@Example.com", n)
						t.Run(name, func(t *testing.T) {
							h := newHarness(t, store, Config{CacheTTL: cache.ttl})
							for _, ev := range sc.history {
								h.deliver(ev(user))
							}
							for i, s := range sc.steps {
								ev := s.ev(user)
								got := h.observe(ev, storedFirst)
								var rules []string
								for _, f := range got {
									rules = append(rules, f.Kind)
									checkFinding(t, f, ev)
								}
								if !slices.Equal(rules, s.want) {
									t.Errorf("step %d (%s %s %s): fired %v, want %v", i, ev.EventType, ev.Country, deviceClass(&ev), rules, s.want)
									for _, f := range got {
										t.Logf("  %s", event.Value(f.Event.Message))
									}
								}
							}
						})
					}
				}
			}
		})
	}
}

// checkFinding checks what a finding says of the login ev that fired it.
func checkFinding(t *testing.T, f connectors.Finding, ev event.Event) {
	t.Helper()
	a := f.Event
	prefix := fmt.Sprintf("alert rule=%s subject=%s ", f.Kind, ev.Identity())
	if a.EventType != event.Alert || !strings.HasPrefix(event.Value(a.Message), prefix) || f.Message != "loginguard alert" ||
		event.Value(a.Email) != event.Value(ev.Email) || a.Country != ev.Country || !a.EventDate.Equal(ev.EventDate.Truncate(time.Millisecond)) ||
		a.ID == "" || a.ID == ev.ID {
		t.Errorf("finding %s: event %s %q %s, message %q, want an ALERT of %s dated as the login, with its country %s, message %q...",
			f.Kind, a.EventType, event.Value(a.Message), a.EventDate, f.Message, event.Value(ev.Email), ev.Country, prefix)
	}
	if len(f.Attrs) < 2 || f.Attrs[0].Key != "rule" || f.Attrs[0].Value.String() != f.Kind || f.Attrs[1].Value.String() != ev.Identity() {
		t.Errorf("finding %s: attrs %v, want rule and subject first", f.Kind, f.Attrs)
	}
}
