package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
)

func ndjson(t *testing.T, a answer) []event.Event {
	t.Helper()
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("NDJSON answer: %d %s %s", a.status, a.header.Get("Content-Type"), a.body)
	}
	var out []event.Event
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	for sc.Scan() {
		var e event.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestPrivacyExport(t *testing.T) {
	f := admintest.New(t, nil, nil)
	a := call(t, f, http.MethodGet, "/api/v1/privacy/export?principal=ALICE@example.com", admintest.AdminToken, "")
	got := ndjson(t, a)
	// Every event of the identity, the one older than 30 days too, oldest first.
	w := want(f, func(e *event.Event) bool { return event.Value(e.Email) == "alice@example.com" })
	slices.Reverse(w)
	if !slices.Equal(idsOf(got), w) || len(w) != 23 {
		t.Errorf("export: %d events, want %d", len(got), len(w))
	}
	if !strings.Contains(a.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("Content-Disposition %q", a.header.Get("Content-Disposition"))
	}
	rows := parseCSV(t, call(t, f, http.MethodGet, "/api/v1/privacy/export?principal=bob&format=csv", admintest.AdminToken, ""))
	if len(rows) != 5 || !slices.Equal(rows[0], admin.LogCSVColumns()) {
		t.Errorf("bob's CSV: %v", rows)
	}
	// An unknown identity: nothing, and still recorded.
	if got := ndjson(t, call(t, f, http.MethodGet, "/api/v1/privacy/export?principal=nobody", admintest.AdminToken, "")); len(got) != 0 {
		t.Errorf("nobody: %v", got)
	}
	em := f.Emitted()
	if len(em) != 3 {
		t.Fatalf("emitted %d audit events, want 3", len(em))
	}
	e := em[0]
	if e.EventType != admin.DataExported || event.Value(e.Email) != "ALICE@example.com" || e.Source != event.SourcePortal ||
		event.Value(e.Message) != "Data of ALICE@example.com exported by ops: 23 events" || e.RemoteAddress != "127.0.0.1" ||
		!e.EventDate.Equal(admintest.Now) || e.ID == "" {
		t.Errorf("audit event %+v %s", e, event.Value(e.Message))
	}
	if em[1].Source != event.SourceManager || event.Value(em[1].Principal) != "bob" || !strings.HasSuffix(event.Value(em[1].Message), ": 4 events") {
		t.Errorf("bob's audit event %+v", em[1])
	}
	// Delivered to the log like the dispatcher does, the audit events are
	// found with the identity's events. (Filtering by eventType=DATA_EXPORTED
	// needs the log stores to know the type: see the report.)
	if err := f.Store.Deliver(context.Background(), em); err != nil {
		t.Fatal(err)
	}
	var p api.Page[event.Event]
	decode(t, get(t, f, "/api/v1/login-logs?principal=bob&size=1"), &p)
	if p.TotalElements != 5 || p.Content[0].EventType != admin.DataExported || p.Content[0].ID != em[1].ID {
		t.Errorf("bob's newest event: %d events, %s", p.TotalElements, mustJSON(p.Content))
	}
}

func TestPrivacyErase(t *testing.T) {
	f := admintest.New(t, nil, nil)
	adm := func(body string) answer {
		return call(t, f, http.MethodPost, "/api/v1/privacy/erase", admintest.AdminToken, body)
	}
	// Pseudonymise v1: its events now read as the pseudonym.
	var ea api.EraseResult
	decode(t, adm(`{"principal":"V1@example.net","pseudonym":"subject-0001"}`), &ea)
	if ea.Events != 5 || !ea.Pseudonymised {
		t.Errorf("pseudonymise v1: %+v", ea)
	}
	var p api.Page[event.Event]
	decode(t, get(t, f, "/api/v1/login-logs?email=v1@example.net"), &p)
	if p.TotalElements != 0 {
		t.Errorf("v1 still has %d events", p.TotalElements)
	}
	decode(t, get(t, f, "/api/v1/login-logs?email=subject-0001"), &p)
	if p.TotalElements != 5 {
		t.Errorf("the pseudonym has %d events", p.TotalElements)
	}
	// Erase bob: principal null.
	decode(t, adm(`{"principal":"bob"}`), &ea)
	if ea.Events != 4 || ea.Pseudonymised {
		t.Errorf("erase bob: %+v", ea)
	}
	decode(t, get(t, f, "/api/v1/login-logs?ip=10.0.0.2"), &p)
	if p.TotalElements != 4 {
		t.Fatalf("bob's IP has %d events", p.TotalElements)
	}
	for _, e := range p.Content {
		if e.Principal != nil || e.Email != nil || e.DisplayName != nil {
			t.Errorf("erased event still names someone: %s", mustJSON(e))
		}
	}
	// A pseudonym that names someone else is refused.
	msg := errShape(t, adm(`{"principal":"carol@example.com","pseudonym":"alice@example.com"}`), http.StatusConflict, "ConflictError")
	if !strings.HasPrefix(msg, "pseudonym: ") {
		t.Errorf("conflict message %q", msg)
	}
	decode(t, get(t, f, "/api/v1/login-logs?email=carol@example.com"), &p)
	if p.TotalElements != 2 {
		t.Errorf("a refused erasure changed carol's events: %d", p.TotalElements)
	}
	// Audit events: the subject, never the pseudonym.
	em := f.Emitted()
	if len(em) != 2 {
		t.Fatalf("emitted %d events, want 2", len(em))
	}
	if em[0].EventType != admin.DataErased || event.Value(em[0].Email) != "V1@example.net" ||
		event.Value(em[0].Message) != "Events of V1@example.net pseudonymised by ops: 5 events" {
		t.Errorf("audit %s", mustJSON(em[0]))
	}
	if strings.Contains(mustJSON(em[0]), "subject-0001") {
		t.Error("the audit event names the pseudonym")
	}
	if event.Value(em[1].Principal) != "bob" || event.Value(em[1].Message) != "Events of bob erased by ops: 4 events" {
		t.Errorf("audit %s", mustJSON(em[1]))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
