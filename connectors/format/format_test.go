package format

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sp(s string) *string { return &s }

func cases() map[string]*event.Event {
	at := time.Date(2026, 12, 5, 10, 30, 0, 123000000, time.UTC)
	return map[string]*event.Event{
		"success": {ID: "01JEVT0000000000000000001", Source: event.SourcePortal, Email: sp("ann@example.com"),
			DisplayName: sp("Ann Example"), EventDate: at, EventType: event.LoginSuccess, RemoteAddress: "203.0.113.7",
			PortalID: sp("portal-1"), AccountID: sp("acc-9"), UserAgent: "Mozilla/5.0", Host: "portal.example.com",
			Path: "/login", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
		"failure": {ID: "01JEVT0000000000000000002", Source: event.SourceManager, Principal: sp("bob"),
			EventDate: at, EventType: event.LoginFailure, RemoteAddress: "2001:db8::1",
			Message: sp("Authentication failed -> BAD_CREDENTIALS"), ErrorType: sp("BadCredentialsException"),
			Reason: event.BadCredentials, FailureCount: 2, Path: "/manager/login"},
		"logout": {ID: "01JEVT0000000000000000003", Source: event.SourceManager, Principal: sp("bob"),
			EventDate: at, EventType: event.Logout, RemoteAddress: "198.51.100.2"},
		"locked": {ID: "01JEVT0000000000000000004", Source: event.SourcePortal, Email: sp("eve@example.com"),
			EventDate: at, EventType: event.AccountLocked, RemoteAddress: "198.51.100.3",
			Message:   sp("Account eve@example.com failed authentication due to 5 failed login attempts"),
			ErrorType: sp("AccountLockedException"), Reason: event.Locked, FailureCount: 5},
		"empty": {},
		"enriched": {ID: "01JEVT0000000000000000005", Source: event.SourceManager, Principal: sp("bob"),
			EventDate: at, EventType: event.LoginFailure, RemoteAddress: "81.2.69.142", Reason: event.BadCredentials,
			UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
			Geo: event.Geo{Country: "GB", RegionCode: "ENG", Region: "England", City: "London", Latitude: 51.5142, Longitude: -0.0931,
				AccuracyRadius: 10, ASN: 20712, ASOrg: "Andrews & Arnold Ltd"},
			Device: event.Device{Browser: "Safari", OS: "iOS", DeviceType: event.DeviceMobile}},
		"bot": {ID: "01JEVT0000000000000000006", Source: event.SourcePortal, Email: sp("ann@example.com"),
			EventDate: at, EventType: event.LoginFailure, RemoteAddress: "8.8.8.8", Reason: event.BadCredentials,
			UserAgent: "Mozilla/4.0 (Hydra)", Geo: event.Geo{Country: "US", Region: "California", ASN: 15169},
			Device: event.Device{Browser: "Hydra", DeviceType: event.DeviceBot, Bot: true}},
	}
}

// TestEnrichedFields checks the location and device fields where ECS and
// OCSF put them.
func TestEnrichedFields(t *testing.T) {
	c := cases()
	var ecs struct {
		Source struct {
			Geo struct {
				CountryISOCode string `json:"country_iso_code"`
				RegionISOCode  string `json:"region_iso_code"`
				RegionName     string `json:"region_name"`
				CityName       string `json:"city_name"`
				Location       struct{ Lat, Lon float64 }
			}
			AS struct {
				Number       int64
				Organization struct{ Name string }
			} `json:"as"`
		}
		UserAgent struct {
			Original string
			Name     string
			OS       struct{ Name string }
			Device   struct{ Name string }
		} `json:"user_agent"`
		Labels map[string]string
	}
	out, _ := encodeECS(nil, c["enriched"])
	if err := json.Unmarshal(out, &ecs); err != nil {
		t.Fatal(err)
	}
	g, a, ua := ecs.Source.Geo, ecs.Source.AS, ecs.UserAgent
	if g.CountryISOCode != "GB" || g.RegionISOCode != "GB-ENG" || g.RegionName != "England" || g.CityName != "London" ||
		g.Location.Lat != 51.5142 || g.Location.Lon != -0.0931 || a.Number != 20712 || a.Organization.Name != "Andrews & Arnold Ltd" ||
		ua.Name != "Safari" || ua.OS.Name != "iOS" || ua.Device.Name != "mobile" || ua.Original == "" || ecs.Labels["bot"] != "" {
		t.Errorf("ecs: %s", out)
	}
	out, _ = encodeECS(nil, c["bot"])
	ecs.Labels = nil
	json.Unmarshal(out, &ecs)
	if ecs.Labels["bot"] != "true" || strings.Contains(string(out), `"location"`) || strings.Contains(string(out), `"region_iso_code"`) {
		t.Errorf("ecs bot: %s", out)
	}

	var ocsf struct {
		Src struct {
			Type     string
			TypeID   int `json:"type_id"`
			Location struct {
				City, Country, Region, Desc string
				Coordinates                 []float64
			}
			AS struct {
				Name   string
				Number int64
			} `json:"autonomous_system"`
			OS struct {
				Name   string
				TypeID int `json:"type_id"`
			}
		} `json:"src_endpoint"`
		HTTP struct {
			UserAgent string `json:"user_agent"`
		} `json:"http_request"`
		Unmapped struct {
			Browser string
			Bot     bool
		}
	}
	out, _ = encodeOCSF(nil, c["enriched"])
	if err := json.Unmarshal(out, &ocsf); err != nil {
		t.Fatal(err)
	}
	s := ocsf.Src
	if s.Location.City != "London" || s.Location.Country != "GB" || s.Location.Region != "ENG" || s.Location.Desc != "London, ENG, GB" ||
		len(s.Location.Coordinates) != 2 || s.Location.Coordinates[0] != -0.0931 || s.Location.Coordinates[1] != 51.5142 ||
		s.AS.Number != 20712 || s.AS.Name != "Andrews & Arnold Ltd" || s.OS.Name != "iOS" || s.OS.TypeID != 301 ||
		s.TypeID != 5 || s.Type != "Mobile" || ocsf.HTTP.UserAgent == "" || ocsf.Unmapped.Browser != "Safari" || ocsf.Unmapped.Bot {
		t.Errorf("ocsf: %s", out)
	}
	out, _ = encodeOCSF(nil, c["bot"])
	ocsf.Unmapped.Bot = false
	json.Unmarshal(out, &ocsf)
	if !ocsf.Unmapped.Bot || ocsf.Unmapped.Browser != "Hydra" || strings.Contains(string(out), "coordinates") || strings.Contains(string(out), `"type_id":5`) {
		t.Errorf("ocsf bot: %s", out)
	}
	// Without enrichment, none of the new objects.
	for _, f := range []Encoder{encodeECS, encodeOCSF} {
		out, _ := f(nil, c["failure"])
		for _, k := range []string{`"geo"`, `"as"`, `"autonomous_system"`, `"location"`, `"unmapped"`, `"os"`, `"bot"`} {
			if strings.Contains(string(out), k) {
				t.Errorf("unenriched event has %s: %s", k, out)
			}
		}
	}
}

func TestGolden(t *testing.T) {
	for _, f := range []string{"ecs", "ocsf"} {
		enc, err := Lookup(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, e := range cases() {
			out, err := enc(nil, e)
			if err != nil {
				t.Fatalf("%s/%s: %v", f, name, err)
			}
			if !json.Valid(out) {
				t.Fatalf("%s/%s: invalid JSON: %s", f, name, out)
			}
			if bytes.Contains(out, []byte("null")) {
				t.Errorf("%s/%s: null in payload: %s", f, name, out)
			}
			var pretty bytes.Buffer
			json.Indent(&pretty, out, "", "  ")
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", f+"_"+name+".json")
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, pretty.Bytes()) {
				t.Errorf("%s/%s differs from %s:\n%s", f, name, path, pretty.Bytes())
			}
		}
	}
}

func TestFields(t *testing.T) {
	c := cases()
	var ecs struct {
		Event struct {
			Type    []string
			Outcome string
		}
	}
	out, _ := encodeECS(nil, c["logout"])
	json.Unmarshal(out, &ecs)
	if ecs.Event.Type[0] != "end" || ecs.Event.Outcome != "success" {
		t.Errorf("ecs logout: %s", out)
	}
	var ocsf struct {
		TypeUID  int    `json:"type_uid"`
		StatusID int    `json:"status_id"`
		Detail   string `json:"status_detail"`
		Time     int64  `json:"time"`
	}
	out, _ = encodeOCSF(nil, c["failure"])
	json.Unmarshal(out, &ocsf)
	if ocsf.TypeUID != 300201 || ocsf.StatusID != 2 || ocsf.Detail != "BAD_CREDENTIALS" || ocsf.Time != c["failure"].EventDate.UnixMilli() {
		t.Errorf("ocsf failure: %s", out)
	}
	out, _ = encodeOCSF(nil, c["logout"])
	json.Unmarshal(out, &ocsf)
	if ocsf.TypeUID != 300202 || ocsf.StatusID != 1 {
		t.Errorf("ocsf logout: %s", out)
	}
	if _, err := Lookup("xml"); err == nil {
		t.Error("Lookup(xml) accepted")
	}
}
