package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/loginguard/loginguard/policy"
)

// FuzzGatewayReadsWhatPortalReads: whatever the request's shape, the account this
// portal reads from a login request (its own readCredentials) is one of the
// accounts loginguard reads from it (policy.Identify with the demo route's
// principal, keyed by the default canonical form), unless loginguard refuses the
// request as unreadable. So no request shape lets the portal log in an account
// whose lockout loginguard did not check.
func FuzzGatewayReadsWhatPortalReads(f *testing.F) {
	seeds := []struct {
		ct    uint8
		body  string
		query string
	}{
		{0, "email=victim@example.com&password=x", ""},
		{0, "email=decoy@example.com&email=victim@example.com&password=x", ""},
		{0, "e%6dail=victim@example.com&password=x", ""},
		{0, "email=VICTIM%40example.com&password=x", ""},
		{0, "email=+victim@example.com%00&password=x", ""},
		{1, `{"email":"decoy@example.com","email":"victim@example.com","password":"x"}`, ""},
		{1, `{"em\u0061il":"victim@example.com","password":"x"}`, ""},
		{2, `{"email":"victim@example.com","password":"x"}`, ""},
		{3, "email=victim@example.com&password=x", "email=decoy@example.com"},
		{4, "--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nvictim@example.com\r\n--B\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nx\r\n--B--\r\n", ""},
		{5, "email=victim@example.com&password=x", ""},
	}
	for _, s := range seeds {
		f.Add(s.ct, []byte(s.body), s.query)
	}
	contentTypes := []string{
		"application/x-www-form-urlencoded",
		"application/json",
		"text/plain",
		"",
		"multipart/form-data; boundary=B",
		"APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8",
		"application/json; charset=utf-8",
		"multipart/form-data",
	}
	spec := policy.PrincipalSpec{JSONPointer: "/email", FormField: "email"}
	f.Fuzz(func(t *testing.T, ct uint8, body []byte, query string) {
		contentType := contentTypes[int(ct)%len(contentTypes)]
		r := httptest.NewRequest(http.MethodPost, "/api/login", bytes.NewReader(body))
		r.URL.RawQuery = query
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		principal, _, _ := readCredentials(httptest.NewRecorder(), r, "email", "password")
		read := policy.DefaultCanonical.Key(policy.Clean(principal))
		if read == "" {
			return // the portal reads no account: nothing to log in
		}
		id := policy.Identify(spec, policy.Request{
			ContentType: contentType, Body: body, Complete: len(body) <= policy.MaxBody, Query: query,
		})
		if id.Missing != "" && len(id.Candidates) == 0 {
			return // loginguard refuses it (on_missing_principal refuse, or 413)
		}
		var keys []string
		for _, c := range id.Candidates {
			keys = append(keys, policy.DefaultCanonical.Key(c))
		}
		if !slices.Contains(keys, read) {
			t.Fatalf("the portal reads %q (key %q); loginguard reads %q (keys %q)\ncontent type %q, query %q, body %q",
				principal, read, id.Candidates, keys, contentType, query, body)
		}
	})
}
