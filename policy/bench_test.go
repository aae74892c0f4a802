package policy

import (
	"testing"

	"github.com/loginguard/loginguard/event"
)

var (
	benchJSON = []byte(`{"email":"alice.smith@example.com","password":"correct horse battery staple","remember":true}`)
	benchForm = []byte(`email=alice.smith%40example.com&password=correct+horse+battery+staple&remember=on&_csrf=3f9a2c1b7d`)
	// A 200-byte portal answer.
	benchResp = []byte(`{"timestamp":"2026-03-31T10:01:00Z","status":403,"error":{"code":"DISABLED","message":"Authentication failed -> DISABLED"},"path":"/api/portal/login","traceId":"4bf92f3577b34da6a3ce929d0e0e4736ab12c"}`)
)

func BenchmarkIdentify(b *testing.B) {
	spec := PrincipalSpec{JSONPointer: "/email", FormField: "email"}
	for _, c := range []struct {
		name, ct string
		body     []byte
	}{
		{"json", "application/json; charset=utf-8", benchJSON},
		{"form", "application/x-www-form-urlencoded", benchForm},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				id := Identify(spec, Request{ContentType: c.ct, Body: c.body, Complete: true})
				if len(id.Candidates) != 1 || id.Candidates[0] != "alice.smith@example.com" {
					b.Fatal(id)
				}
			}
		})
	}
}

func BenchmarkCanonical(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if k := DefaultCanonical.Key("Alice.Smith@Example.com"); k != "alice.smith@example.com" {
			b.Fatal(k)
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	if len(benchResp) != 200 {
		b.Fatalf("response body is %d bytes, want 200", len(benchResp))
	}
	c := mustCompile(b,
		Rule{Outcome: "success", Status: []string{"2xx"}, Cookie: "SESSION"},
		Rule{Outcome: "failure", JSON: "/error/code", Reasons: map[string]string{
			"disabled": "DISABLED", "locked": "LOCKED", "waiting_for_approvement": "WAITING_FOR_APPROVEMENT",
			"confirmation_needed": "CONFIRMATION_NEEDED", "rejected": "REJECTED", "not_approved": "NOT_APPROVED",
		}},
	)
	resp := Response{Status: 403, Header: hdr("Content-Type", "application/json"), Body: benchResp}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchResp)))
	for b.Loop() {
		if v := c.Classify(resp); v.Reason != event.Disabled {
			b.Fatal(v)
		}
	}
}

// BenchmarkLookupJSON compares the in-place scanner with encoding/json building the
// document (refLookup), on the classification body.
func BenchmarkLookupJSON(b *testing.B) {
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, ok := LookupJSON(benchResp, "/error/code"); !ok || v != "DISABLED" {
				b.Fatal(v, ok)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, ok := refLookup(benchResp, "/error/code"); !ok || v != "DISABLED" {
				b.Fatal(v, ok)
			}
		}
	})
}

func BenchmarkDescribe(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Describe(event.BadCredentials, event.SourcePortal, "alice.smith@example.com", 3)
	}
}
