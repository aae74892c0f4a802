package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// maxLoginBody bounds the size of a login request body.
const maxLoginBody = 64 << 10

// errMissingFields is returned by readCredentials when a field is absent or empty.
var errMissingFields = errors.New("missing fields")

// readCredentials reads the two named fields of a login request from a JSON object
// or, when the Content-Type says so, from an urlencoded or multipart form.
//
// principal is returned whenever it could be read, even with an error (a missing
// password), so that the request can still be counted against it.
func readCredentials(w http.ResponseWriter, r *http.Request, userField, passField string) (principal, password string, err error) {
	var vals [2]string
	err = readFields(w, r, vals[:], userField, passField)
	principal, password = vals[0], vals[1]
	if err != nil {
		return principal, "", err
	}
	if principal == "" || password == "" {
		return principal, "", errMissingFields
	}
	return principal, password, nil
}

// readFields reads the named string fields of a request from a JSON object or,
// when the Content-Type says so, from an urlencoded or multipart form, into vals
// (one per name). An absent or null field reads as "". With an error, the values
// read before the failing field are kept, so the first one (the principal) is
// known whenever it could be read.
func readFields(w http.ResponseWriter, r *http.Request, vals []string, names ...string) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		var err error
		if mediaType == "multipart/form-data" {
			err = r.ParseMultipartForm(maxLoginBody)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			return fmt.Errorf("reading form: %w", err)
		}
		for i, name := range names {
			vals[i] = r.PostForm.Get(name)
		}
		return nil
	default:
		return readJSONFields(r.Body, names, vals)
	}
}

// readJSONFields decodes exactly one JSON object and takes the named string fields
// from it into vals, in order; other fields are ignored.
func readJSONFields(body io.Reader, names, vals []string) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("decoding JSON: %w", err)
	}
	if obj == nil {
		return errors.New("decoding JSON: body is not an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("decoding JSON: data after the object")
	}
	for i, name := range names {
		if vals[i], err = stringField(obj, name); err != nil {
			return err
		}
	}
	return nil
}

// stringField returns the string value of obj[name], "" when it is absent or null.
func stringField(obj map[string]json.RawMessage, name string) (string, error) {
	raw, ok := obj[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("decoding JSON: field %q is not a string", name)
	}
	return s, nil
}
