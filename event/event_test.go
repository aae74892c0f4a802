package event

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMarshalConnectorEventShape(t *testing.T) {
	ev := Event{
		ID: "01a2", Source: SourceManager, Principal: Str("username"),
		EventDate: time.Date(2026, 3, 31, 12, 0, 0, 0, time.FixedZone("x", 2*3600)),
		EventType: LoginSuccess, RemoteAddress: "1.2.3.4",
	}
	got, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"01a2","source":"API_MANAGER","principal":"username","email":null,"displayName":null,"eventDate":"2026-03-31T10:00:00.000Z","eventType":"LOGIN_SUCCESS","remoteAddress":"1.2.3.4","message":null,"errorType":null,"portalId":null,"accountId":null}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	ev.Message, ev.Reason, ev.FailureCount, ev.TraceID = Str("Authentication failed -> DISABLED"), Disabled, 3, "abc"
	got = ev.AppendJSON(nil)
	if !strings.Contains(string(got), `"message":"Authentication failed -> DISABLED"`) || !strings.HasSuffix(string(got), `,"reason":"DISABLED","failureCount":3,"traceId":"abc"}`) {
		t.Fatalf("extensions: %s", got)
	}
}

// TestCount: a sampled refusal's count is written after failureCount and read
// back; one attempt (0 or 1) writes nothing.
func TestCount(t *testing.T) {
	ev := Event{ID: "x", EventDate: time.UnixMilli(0).UTC(), EventType: LoginFailure, Reason: RateLimited, Count: 40}
	got := string(ev.AppendJSON(nil))
	if !strings.HasSuffix(got, `,"reason":"RATE_LIMITED","count":40}`) {
		t.Fatalf("count 40: %s", got)
	}
	var back Event
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	if back.Count != 40 || back.Attempts() != 40 {
		t.Errorf("round trip: Count %d, Attempts() %d; want 40, 40", back.Count, back.Attempts())
	}
	for _, n := range []int{0, 1, -3} {
		ev.Count = n
		if s := string(ev.AppendJSON(nil)); strings.Contains(s, `"count":`) {
			t.Errorf("count %d written: %s", n, s)
		}
		if a := ev.Attempts(); a != 1 {
			t.Errorf("count %d: Attempts() = %d, want 1", n, a)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\slash", "new\nline\r\ttab\x00\x1f\x7f", "ünïcødé 😀", "bad \xff utf8", "line\u2028sep\u2029", "<html>&amp;"} {
		ev := Event{ID: s, Email: Str(s), UserAgent: s, EventDate: time.UnixMilli(1700000000123).UTC(), EventType: LoginFailure, Reason: Unknown}
		b, _ := json.Marshal(ev)
		if strings.ContainsAny(string(b), "\n\r\u2028\u2029") {
			t.Errorf("%q: raw line break in %s", s, b)
		}
		var back Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q: %v in %s", s, err, b)
		}
		want := string([]rune(s))
		if back.ID != want || *back.Email != want || back.UserAgent != want || !back.EventDate.Equal(ev.EventDate) {
			t.Errorf("%q: round trip gave %+v", s, back)
		}
	}
}

func FuzzMarshal(f *testing.F) {
	f.Add("x", "a@b", 3)
	f.Add("\x00\"\\\u2028", "\xff", -1)
	f.Fuzz(func(t *testing.T, s, email string, n int) {
		ev := Event{ID: s, Email: Str(email), Message: Str(s), FailureCount: n, Count: n, Path: s, EventType: Logout}
		b, _ := json.Marshal(ev)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("invalid JSON %s: %v", b, err)
		}
		var back Event
		json.Unmarshal(b, &back)
		if back.ID != string([]rune(s)) || back.FailureCount != n || back.Attempts() != ev.Attempts() {
			t.Fatalf("round trip %q → %q", s, back.ID)
		}
		if !reflect.DeepEqual(back.EventType, Logout) {
			t.Fatal("eventType lost")
		}
	})
}

func TestEnrichmentFields(t *testing.T) {
	ev := Event{ID: "x", EventDate: time.UnixMilli(0).UTC(), EventType: LoginFailure, RemoteAddress: "81.2.69.142",
		Geo: Geo{Country: "GB", RegionCode: "ENG", Region: "England", City: "London", Latitude: 51.5142, Longitude: -0.0931,
			AccuracyRadius: 10, ASN: 20712, ASOrg: "Andrews & Arnold \"AA\""},
		Device: Device{Browser: "curl", DeviceType: DeviceBot, Bot: true}}
	got := string(ev.AppendJSON(nil))
	want := `,"country":"GB","regionCode":"ENG","region":"England","city":"London","latitude":51.5142,"longitude":-0.0931,` +
		`"accuracyRadius":10,"asn":20712,"asOrg":"Andrews & Arnold \"AA\"","browser":"curl","deviceType":"bot","bot":true}`
	if !strings.HasSuffix(got, want) {
		t.Fatalf("got  %s\nwant ...%s", got, want)
	}
	var back Event
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	if back.Geo != ev.Geo || back.Device != ev.Device {
		t.Errorf("round trip: %+v %+v", back.Geo, back.Device)
	}
	if p := ev.Place(); p != "London, ENG, GB" {
		t.Errorf("Place() = %q", p)
	}
	// Only the known parts; the region's name without a code.
	if p := (&Geo{Region: "Bavaria", Country: "DE"}).Place(); p != "Bavaria, DE" {
		t.Errorf("Place() = %q", p)
	}
	// Without enrichment, no field at all; a location on the equator keeps both coordinates.
	plain := Event{ID: "x", EventDate: time.UnixMilli(0).UTC()}
	if s := string(plain.AppendJSON(nil)); strings.Contains(s, "latitude") || strings.Contains(s, "bot") || strings.Contains(s, "country") {
		t.Errorf("unenriched event: %s", s)
	}
	eq := Event{Geo: Geo{Latitude: 0, Longitude: 32.5}}
	if s := string(eq.AppendJSON(nil)); !strings.Contains(s, `"latitude":0,"longitude":32.5`) {
		t.Errorf("equator: %s", s)
	}
}

// TestMonitorAndBreachedFields: wouldRefuse and passwordBreached are written
// after the other extensions and before the location, in that order, and read
// back; an attempt whose password is not breached writes no
// passwordBreached, and one a route enforced writes no wouldRefuse.
func TestMonitorAndBreachedFields(t *testing.T) {
	ev := Event{ID: "x", EventDate: time.UnixMilli(0).UTC(), EventType: LoginFailure, Reason: Locked, TraceID: "abc",
		WouldRefuse: Locked, PasswordBreached: true, Geo: Geo{Country: "NL"}}
	got := string(ev.AppendJSON(nil))
	if want := `,"reason":"LOCKED","traceId":"abc","wouldRefuse":"LOCKED","passwordBreached":true,"country":"NL"}`; !strings.HasSuffix(got, want) {
		t.Fatalf("got  %s\nwant ...%s", got, want)
	}
	var back Event
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	if back.WouldRefuse != Locked || !back.PasswordBreached {
		t.Errorf("round trip: wouldRefuse %q, passwordBreached %v", back.WouldRefuse, back.PasswordBreached)
	}
	plain := Event{ID: "x", EventDate: time.UnixMilli(0).UTC(), EventType: LoginSuccess}
	if s := string(plain.AppendJSON(nil)); strings.Contains(s, "passwordBreached") || strings.Contains(s, "wouldRefuse") {
		t.Errorf("an attempt without them: %s", s)
	}
	// A successful login with a breached password.
	ok := Event{ID: "y", EventDate: time.UnixMilli(0).UTC(), EventType: LoginSuccess, PasswordBreached: true}
	b, err := json.Marshal(ok)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["passwordBreached"] != true {
		t.Errorf("success with a breached password: %s (%v)", b, err)
	}
}

// TestReasons: BREACHED_PASSWORD is a reason, the last of Reasons (stores
// keep a reason as its place in the list), and NumReasons counts them.
func TestReasons(t *testing.T) {
	if len(Reasons) != NumReasons {
		t.Fatalf("%d reasons, NumReasons %d", len(Reasons), NumReasons)
	}
	if Reasons[len(Reasons)-1] != BreachedPassword {
		t.Errorf("the last reason is %s, want %s", Reasons[len(Reasons)-1], BreachedPassword)
	}
	if r, ok := ParseReason("BREACHED_PASSWORD"); !ok || r != BreachedPassword {
		t.Errorf("ParseReason(BREACHED_PASSWORD) = %q, %v", r, ok)
	}
	seen := map[Reason]bool{}
	for _, r := range Reasons {
		if seen[r] {
			t.Errorf("%s listed twice", r)
		}
		seen[r] = true
	}
}
