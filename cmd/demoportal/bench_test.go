package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchLogin posts body to /api/login from b.RunParallel's goroutines and checks
// every answer's status.
func benchLogin(b *testing.B, body string, want int) {
	h := newPortal()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(body))
			req.Header.Set("Content-Type", ctJSON)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != want {
				b.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
			}
		}
	})
}

// BenchmarkLogin measures the login handler's throughput, which the gateway
// benchmarks rely on: a right password (a session is created) and a wrong one.
func BenchmarkLogin(b *testing.B) {
	b.Run("success", func(b *testing.B) {
		benchLogin(b, jsonLogin("active@example.com", "correct-horse"), http.StatusOK)
	})
	b.Run("bad-password", func(b *testing.B) {
		benchLogin(b, jsonLogin("active@example.com", "wrong-horse"), http.StatusUnauthorized)
	})
}

// BenchmarkDirectoryLookup measures the read path every login takes through the
// directory's lock, from parallel goroutines.
func BenchmarkDirectoryLookup(b *testing.B) {
	d := newDirectory()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := d.lookup("Active@Example.com"); !ok {
				b.Fatal("active@example.com not found")
			}
		}
	})
}
