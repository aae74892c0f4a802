package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/loginguard/loginguard/admin/api"
)

// env is what a subcommand runs with: the API client and the output.
type env struct {
	base   *url.URL
	token  string
	output string
	hc     *http.Client
	out    io.Writer
}

func newEnv(g globals, stream bool, stdout io.Writer) (*env, error) {
	u, err := url.Parse(strings.TrimSpace(g.url))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--url %q: want an http:// or https:// URL", g.url)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if strings.TrimSpace(g.token) == "" {
		return nil, &apiError{status: http.StatusUnauthorized, name: api.NameAuthenticationRequired,
			message: "no token: give --token or set " + EnvToken}
	}
	hc := &http.Client{Timeout: g.timeout}
	if stream {
		hc.Timeout = 0
	}
	return &env{base: u, token: strings.TrimSpace(g.token), output: g.output, hc: hc, out: stdout}, nil
}

// apiError is an error answer of the API (its api.ErrorBody) with its status.
type apiError struct {
	status  int
	id      string
	name    string
	message string
}

func (e *apiError) Error() string {
	if e.id == "" {
		return e.message
	}
	return fmt.Sprintf("%s (HTTP %d %s, error id %s)", e.message, e.status, e.name, e.id)
}

// do sends a request to path (escaped, relative to the API URL) and returns
// the response when its status is 2xx; else an *apiError.
func (e *env) do(ctx context.Context, method, path string, q url.Values, body any, accept string) (*http.Response, error) {
	u := *e.base
	u.RawPath = u.Path + path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("bad path %q: %w", path, err)
	}
	u.Path = p
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin API at %s: %w", e.base.Redacted(), err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	ae := &apiError{status: resp.StatusCode}
	var shape api.ErrorBody
	if json.Unmarshal(b, &shape) == nil && shape.Message != "" {
		ae.id, ae.name, ae.message = shape.ID, shape.Name, shape.Message
	} else {
		ae.name = http.StatusText(resp.StatusCode)
		ae.message = fmt.Sprintf("HTTP %d from %s: %s", resp.StatusCode, u.Path, strings.TrimSpace(string(b)))
	}
	return nil, ae
}

// getJSON sends a request and returns the answer's JSON body.
func (e *env) getJSON(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	resp, err := e.do(ctx, method, path, q, body, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", path, err)
	}
	return b, nil
}

// call sends a request and decodes its JSON answer into v; it returns the raw
// body too, for --output json.
func (e *env) call(ctx context.Context, method, path string, q url.Values, body, v any) ([]byte, error) {
	b, err := e.getJSON(ctx, method, path, q, body)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decoding the answer of %s: %w", path, err)
	}
	return b, nil
}

// printJSON writes a JSON answer indented.
func (e *env) printJSON(b []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		buf.Reset()
		buf.Write(b)
	}
	buf.WriteByte('\n')
	_, err := e.out.Write(buf.Bytes())
	return err
}
