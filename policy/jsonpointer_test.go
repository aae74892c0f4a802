package policy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLookupJSON(t *testing.T) {
	const doc = `{
		"email": "a@example.com",
		"user": {"name": "alice", "id": 42, "admin": false, "tags": ["x", "y", {"z": "deep"}]},
		"a/b": "slash", "m~n": "tilde", "~1": "literal", "": "empty key",
		"esc": "tab\there \"q\" \u00e9 \ud83d\ude00 \u002F",
		"lone": "\ud800x", "bad\u00e9key": 1,
		"num": -1.5e+3, "zero": 0, "t": true, "nul": null, "obj": {}, "arr": [],
		"dup": "first", "dup": "last",
		"nested": {"dup": {"v": 1}, "dup": {"v": 2}}
	}`
	tests := []struct {
		ptr  string
		want string
		ok   bool
	}{
		{"/email", "a@example.com", true},
		{"/user/name", "alice", true},
		{"/user/id", "42", true},
		{"/user/admin", "false", true},
		{"/user/tags/0", "x", true},
		{"/user/tags/1", "y", true},
		{"/user/tags/2/z", "deep", true},
		{"/user/tags/3", "", false},
		{"/user/tags/-", "", false},
		{"/user/tags/01", "", false},
		{"/user/tags/x", "", false},
		{"/user/tags", "", false}, // array
		{"/user", "", false},      // object
		{"/a~1b", "slash", true},
		{"/m~0n", "tilde", true},
		{"/~01", "literal", true}, // ~0 then 1, not ~1
		{"/", "empty key", true},
		{"/esc", "tab\there \"q\" é 😀 /", true},
		{"/lone", "\uFFFDx", true},
		{"/badékey", "1", true},
		{"/num", "-1.5e+3", true},
		{"/zero", "0", true},
		{"/t", "true", true},
		{"/nul", "", false},
		{"/obj", "", false},
		{"/arr", "", false},
		{"/dup", "last", true},
		{"/nested/dup/v", "2", true},
		{"/missing", "", false},
		{"/email/x", "", false}, // through a string
		{"", "", false},         // the whole doc is an object
		{"email", "", false},    // invalid pointer
		{"/m~2n", "", false},    // invalid escape
	}
	for _, tt := range tests {
		got, ok := LookupJSON([]byte(doc), tt.ptr)
		if got != tt.want || ok != tt.ok {
			t.Errorf("LookupJSON(%q) = %q, %v; want %q, %v", tt.ptr, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLookupJSONDocuments(t *testing.T) {
	tests := []struct {
		doc, ptr, want string
		ok             bool
	}{
		{`"top"`, "", "top", true},
		{` 12 `, "", "12", true},
		{`[1, [2, 3]]`, "/1/0", "2", true},
		{"\xEF\xBB\xBF{\"a\":\"bom\"}", "/a", "bom", true},
		{`{"a":"x"} trailing`, "/a", "x", true},           // after the value: ignored
		{`{"a":"x",}`, "/a", "", false},                   // trailing comma
		{`{"a":"x" "b":1}`, "/a", "", false},              // missing comma
		{`{"a":"x", "b": tru}`, "/a", "", false},          // bad literal later on
		{`{"a":"x", "b": 01}`, "/a", "", false},           // bad number later on
		{`{"a":"x", "b": 1.}`, "/a", "", false},           // bad number later on
		{`{"a":"x", "b": "\q"}`, "/a", "", false},         // bad escape later on
		{"{\"a\":\"x\ny\"}", "/a", "", false},             // raw control character
		{`{"a":"x", "b": {"c": [1, 2}}`, "/a", "", false}, // bad nesting later on
		{`{"a":"x"`, "/a", "", false},                     // truncated
		{`{'a':'x'}`, "/a", "", false},                    // not JSON
		{``, "", "", false},                               // empty
		{`   `, "/a", "", false},                          // blank
		{`{"a":1e5}`, "/a", "1e5", true},
		{`{"a":-0.0E-2}`, "/a", "-0.0E-2", true},
		{`{"a":"\u0000"}`, "/a", "\x00", true}, // as is: Clean is the caller's job
		{strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1), "", "", false},
	}
	for _, tt := range tests {
		got, ok := LookupJSON([]byte(tt.doc), tt.ptr)
		if got != tt.want || ok != tt.ok {
			t.Errorf("LookupJSON(%q, %q) = %q, %v; want %q, %v", tt.doc, tt.ptr, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLookupJSONIncomplete(t *testing.T) {
	doc := []byte(`{"status": "LOCKED", "user": {"id": "u1", "n": 12`)
	for _, tt := range []struct {
		ptr, want string
		ok        bool
	}{
		{"/status", "LOCKED", true},
		{"/user/id", "u1", true},
		{"/user/n", "", false}, // may have been cut: 12 could be 123
		{"/user/x", "", false},
	} {
		var arr [8]string
		tokens, _ := pointerTokens(tt.ptr, arr[:0])
		v, ok := lookupJSON(doc, tokens, false)
		got, _ := v.text()
		if got != tt.want || ok != tt.ok {
			t.Errorf("lookupJSON(incomplete, %q) = %q, %v; want %q, %v", tt.ptr, got, ok, tt.want, tt.ok)
		}
	}
	// The same prefix read as a complete document is malformed.
	if _, ok := LookupJSON(doc, "/status"); ok {
		t.Error("a truncated document read as complete gave a value")
	}
}

func TestValidPointer(t *testing.T) {
	for _, p := range []string{"", "/", "/a", "/a/b", "/~0", "/~1", "/a~0b~1c", "//", "/0/-"} {
		if err := ValidPointer(p); err != nil {
			t.Errorf("ValidPointer(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"a", "a/b", "/~", "/~2", "/a~", "#/a", "/\xff"} {
		if err := ValidPointer(p); err == nil {
			t.Errorf("ValidPointer(%q) = nil, want an error", p)
		}
	}
}

// refLookup is LookupJSON done with encoding/json, building the whole document.
func refLookup(doc []byte, pointer string) (string, bool) {
	tokens, err := pointerTokens(pointer, nil)
	if err != nil {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	for _, tok := range tokens {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return "", false
			}
		case []any:
			i, ok := arrayIndex(tok)
			if !ok || i >= len(x) {
				return "", false
			}
			v = x[i]
		default:
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

func TestLookupJSONMatchesEncodingJSON(t *testing.T) {
	docs := []string{
		`{"a":{"b":[0,{"c":"\u00e9\ud83d\ude00"}]},"a~b":1,"a/b":2,"dup":1,"dup":{"x":true}}`,
		`{"email":"x@y.z","password":"secret","remember":true,"n":null}`,
		`[{"k":"v"},[1,2,[3]],"s",-0.5e10]`,
		"{\"inv\":\"\xff\xfe\",\"sur\":\"\\udc00\\ud800\\u0041\"}",
	}
	ptrs := []string{"", "/a", "/a/b", "/a/b/1/c", "/a~0b", "/a~1b", "/dup", "/dup/x",
		"/email", "/password", "/remember", "/n", "/0/k", "/1/2/0", "/2", "/3", "/inv", "/sur", "/4"}
	for _, d := range docs {
		if !json.Valid([]byte(d)) {
			t.Fatalf("test document %q is not valid JSON", d)
		}
		for _, p := range ptrs {
			got, ok := LookupJSON([]byte(d), p)
			want, wantOK := refLookup([]byte(d), p)
			if got != want || ok != wantOK {
				t.Errorf("LookupJSON(%q, %q) = %q, %v; encoding/json says %q, %v", d, p, got, ok, want, wantOK)
			}
		}
	}
}

func TestLookupJSONDoesNotAllocate(t *testing.T) {
	doc := []byte(`{"user":{"name":"alice","tags":["a","b"]},"password":"hunter2"}`)
	var arr [8]string
	tokens, _ := pointerTokens("/user/tags/1", arr[:0])
	allocs := testing.AllocsPerRun(100, func() {
		v, ok := lookupJSON(doc, tokens, true)
		if !ok || string(v.bytes()) != "b" {
			t.Fatal("lookup failed")
		}
	})
	if allocs != 0 {
		t.Errorf("lookupJSON allocated %v times, want 0", allocs)
	}
}
