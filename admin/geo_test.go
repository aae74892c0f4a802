package admin_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// TestLocationFilters: country (any case), asn (with or without "AS") and
// deviceType (any case) filter the login-log search, its CSV export and
// the login history, alone and with the other filters; the CSV has the
// location and device columns.
func TestLocationFilters(t *testing.T) {
	f := admintest.New(t, nil, nil)
	nl := func(e *event.Event) bool { return inDefault(e) && e.Country == "NL" }
	for _, c := range []struct {
		query string
		keep  func(e *event.Event) bool
	}{
		{"country=nl", nl},
		{"country=NL&status=FAILURE&reason=ACCOUNT_NOT_FOUND", func(e *event.Event) bool { return nl(e) && e.Reason == event.AccountNotFound }},
		{"country=US", func(e *event.Event) bool { return inDefault(e) && e.Country == "US" }},
		{"country=FR", func(*event.Event) bool { return false }},
		{"asn=AS64497", func(e *event.Event) bool { return inDefault(e) && e.ASN == 64497 }},
		{"asn=64496&email=v2@example.net", func(e *event.Event) bool { return nl(e) && event.Value(e.Email) == "v2@example.net" }},
		{"deviceType=BOT", func(e *event.Event) bool { return inDefault(e) && e.DeviceType == event.DeviceBot }},
		{"deviceType=desktop&eventType=LOGOUT", func(e *event.Event) bool {
			return inDefault(e) && e.DeviceType == event.DeviceDesktop && e.EventType == event.Logout
		}},
	} {
		want := want(f, c.keep)
		var p api.Page[event.Event]
		decode(t, get(t, f, "/api/v1/login-logs?size=1000&"+c.query), &p)
		if got := idsOf(p.Content); !slices.Equal(got, want) || p.TotalElements != int64(len(want)) {
			t.Errorf("%s: %d events %v, want %d %v", c.query, p.TotalElements, got, len(want), want)
		}
		a := get(t, f, "/api/v1/login-logs?format=csv&"+c.query)
		rows, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll()
		if err != nil || len(rows) != len(want)+1 {
			t.Fatalf("%s as CSV: %d rows, %v; want %d", c.query, len(rows), err, len(want)+1)
		}
		var h api.LoginHistory
		decode(t, get(t, f, "/api/admin/logins?"+c.query), &h)
		n := 0
		for _, id := range want {
			if e := f.Events[slices.IndexFunc(f.Events, func(e event.Event) bool { return e.ID == id })]; e.EventType == event.LoginSuccess || e.EventType == event.LoginFailure {
				n++
			}
		}
		if len(h.Events) != n {
			t.Errorf("%s in the login history: %d, want %d", c.query, len(h.Events), n)
		}
	}
	// The CSV's location and device columns.
	a := get(t, f, "/api/v1/login-logs?format=csv&country=NL&size=1")
	rows, _ := csv.NewReader(bytes.NewReader(a.body)).ReadAll()
	col := func(name string) string { return rows[1][slices.Index(rows[0], name)] }
	if len(rows) < 2 || col("country") != "NL" || col("location") != "Amsterdam, NH, NL" || col("asn") != "64496" ||
		col("asOrg") != "Example Hosting B.V." || col("deviceType") != "bot" || col("browser") != "python-requests" {
		t.Fatalf("CSV location and device columns: %v", rows[:min(2, len(rows))])
	}
	if !slices.Equal(rows[0], admin.LogCSVColumns()) {
		t.Fatalf("CSV header %v", rows[0])
	}
	// Bad values and repeats: 400 naming the parameter.
	for _, c := range []struct{ query, param string }{
		{"country=USA", "country"}, {"country=1A", "country"}, {"country=nl&country=de", "country"},
		{"asn=0", "asn"}, {"asn=-5", "asn"}, {"asn=AS", "asn"}, {"asn=4294967296", "asn"}, {"asn=%2B12", "asn"}, {"asn=1&asn=2", "asn"},
		{"deviceType=toaster", "deviceType"}, {"deviceType=bot&deviceType=tv", "deviceType"}, {"devicetype=bot", "devicetype"},
	} {
		for _, path := range []string{"/api/v1/login-logs?", "/api/admin/logins?"} {
			msg := errShape(t, get(t, f, path+c.query), http.StatusBadRequest, api.NameBadRequest)
			if !strings.HasPrefix(msg, c.param+": ") {
				t.Errorf("%s%s: message %q does not begin with %q", path, c.query, msg, c.param+": ")
			}
		}
	}
}

// TestStatsBreakdowns: the stats endpoint answers the attempts by country
// and device type and the failures by AS of its range, top N.
func TestStatsBreakdowns(t *testing.T) {
	f := admintest.New(t, nil, nil)
	var st api.Stats
	decode(t, get(t, f, "/api/v1/stats"), &st)
	var nl, us, bots, desktops int64
	var nlFail, usFail int64
	for _, e := range f.Events {
		if !inDefault(&e) || e.EventType != event.LoginSuccess && e.EventType != event.LoginFailure {
			continue
		}
		failed := e.EventType == event.LoginFailure
		switch e.Country {
		case "NL":
			nl++
			if failed {
				nlFail++
			}
		case "US":
			us++
			if failed {
				usFail++
			}
		}
		switch e.DeviceType {
		case event.DeviceBot:
			bots++
		case event.DeviceDesktop:
			desktops++
		}
	}
	wantC := []logstore.CountryCount{{Country: "NL", Attempts: nl, Failures: nlFail}, {Country: "US", Attempts: us, Failures: usFail, Successes: us - usFail}}
	wantA := []logstore.ASNCount{{ASN: 64496, Org: "Example Hosting B.V.", Failures: nlFail}, {ASN: 64497, Org: "Example Transit", Failures: usFail}}
	if nl == 0 || us == 0 || !slices.Equal(st.ByCountry, wantC) || !slices.Equal(st.TopASNs, wantA) {
		t.Fatalf("byCountry %+v topAsns %+v; want %+v %+v", st.ByCountry, st.TopASNs, wantC, wantA)
	}
	if len(st.ByDeviceType) != 2 || st.ByDeviceType[0].DeviceType != event.DeviceDesktop || st.ByDeviceType[0].Attempts != desktops ||
		st.ByDeviceType[1] != (logstore.DeviceCount{DeviceType: event.DeviceBot, Attempts: bots, Failures: bots}) {
		t.Fatalf("byDeviceType %+v; want %d desktop, %d bot attempts", st.ByDeviceType, desktops, bots)
	}
	decode(t, get(t, f, "/api/v1/stats?top=1"), &st)
	if len(st.ByCountry) != 1 || len(st.TopASNs) != 1 || len(st.ByDeviceType) != 1 {
		t.Fatalf("top=1: %+v %+v %+v", st.ByCountry, st.TopASNs, st.ByDeviceType)
	}
	a := get(t, f, "/api/v1/stats?from=2020-01-01&to=2020-01-02")
	if !bytes.Contains(a.body, []byte(`"byCountry":[],"topAsns":[],"byDeviceType":[]`)) {
		t.Fatalf("empty range: %s", a.body)
	}
}
