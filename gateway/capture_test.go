package gateway

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/loginguard/loginguard/policy"
)

// TestRecorderHolds: a holding recorder sends nothing until release, sends the
// answer byte for byte then, lets go by itself past policy.MaxBody, and discard
// drops the answer with its headers.
func TestRecorderHolds(t *testing.T) {
	body := bytes.Repeat([]byte("x"), policy.MaxBody+100)
	for _, c := range []struct {
		name   string
		writes [][]byte
	}{
		{"small", [][]byte{body[:10], body[10:20]}},
		{"past the limit", [][]byte{body[:policy.MaxBody-10], body[policy.MaxBody-10:]}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			rc := &recorder{ResponseWriter: w, capture: true, holding: true}
			rc.Header().Set("Set-Cookie", "s=1")
			rc.WriteHeader(http.StatusFound)
			var want []byte
			for _, p := range c.writes {
				if _, err := rc.Write(p); err != nil {
					t.Fatal(err)
				}
				want = append(want, p...)
			}
			if len(want) <= policy.MaxBody && (w.Body.Len() != 0 || w.Code != http.StatusOK || !rc.holding) {
				t.Fatalf("held answer sent early: %d bytes, status %d", w.Body.Len(), w.Code)
			}
			if err := rc.release(); err != nil {
				t.Fatal(err)
			}
			if w.Code != http.StatusFound || !bytes.Equal(w.Body.Bytes(), want) {
				t.Errorf("released: status %d, %d bytes (want %d, the answer as written)", w.Code, w.Body.Len(), len(want))
			}
		})
	}
	w := httptest.NewRecorder()
	rc := &recorder{ResponseWriter: w, capture: true, holding: true}
	rc.Header().Set("Set-Cookie", "s=1")
	rc.WriteHeader(http.StatusFound)
	_, _ = rc.Write([]byte("welcome"))
	rc.discard()
	if len(w.Header()) != 0 || w.Body.Len() != 0 || string(rc.body) != "welcome" {
		t.Errorf("discarded: headers %v, %d bytes sent, kept %q", w.Header(), w.Body.Len(), rc.body)
	}
}
