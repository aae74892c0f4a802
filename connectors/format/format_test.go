package format

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
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
