package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/internal/admintest"
)

// answer is one HTTP exchange's result.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request to the fixture's server; hdr lists header name, value pairs.
func call(t *testing.T, f *admintest.Fixture, method, path, token, body string, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.Server.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.Server.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

func get(t *testing.T, f *admintest.Fixture, path string, hdr ...string) answer {
	t.Helper()
	return call(t, f, http.MethodGet, path, admintest.ReadToken, "", hdr...)
}

// decode decodes a 200 JSON answer into v, strictly (see strict).
func decode(t *testing.T, a answer, v any) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if err := strict(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// strict decodes one JSON value into v and fails on a field that v's type
// lacks, or on anything after the value: the handler's answers must have no
// field that their type in package admin/api lacks.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("more after the JSON value (%v)", err)
	}
	return nil
}

// errShape checks that a is an error in the error shape (api.ErrorBody)
// with this status and name, and returns its message.
func errShape(t *testing.T, a answer, status int, name string) string {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	var e api.ErrorBody
	if err := strict(a.body, &e); err != nil {
		t.Fatalf("error body %s: %v", a.body, err)
	}
	if _, err := uuid.Parse(e.ID); err != nil {
		t.Errorf("error id %q is not a UUID", e.ID)
	}
	if e.Name != name {
		t.Errorf("error name %v, want %s", e.Name, name)
	}
	if e.Message == "" {
		t.Error("error message is empty")
	}
	return e.Message
}
