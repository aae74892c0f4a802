package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/state"
)

// ctxStore is a state store whose Admit fails as a network store does when
// the request's context is done.
type ctxStore struct{ state.Store }

func (s ctxStore) Admit(ctx context.Context, a state.Attempt, p state.Policy) (state.Admission, error) {
	if err := ctx.Err(); err != nil {
		return state.Admission{}, err
	}
	return s.Store.Admit(ctx, a, p)
}

// errorCounter is a testApp that counts state errors.
type errorCounter struct {
	*testApp
	errors int
}

func (a *errorCounter) StateError(string, error) { a.errors++ }

// TestClientGoneWhileAdmitted: an attempt whose client went away while the
// state was asked is not a state outage and records nothing: it never
// reached the portal.
func TestClientGoneWhileAdmitted(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	mem := state.NewMemory(state.MemoryOptions{})
	defer mem.Close()
	app := &errorCounter{testApp: &testApp{store: ctxStore{mem}}}
	out := new(captured)
	if err := h.Start(app, Env{Pipeline: testPipeline(t, connectors.Named{Name: "c", Connector: out})}); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(`{"email":"a@example.com","password":"x"}`)).WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	reached := false
	_ = h.Serve(httptest.NewRecorder(), req, HandlerFunc(func(http.ResponseWriter, *http.Request) error { reached = true; return nil }))
	h.Close()
	out.mu.Lock()
	defer out.mu.Unlock()
	if reached || app.errors != 0 || len(out.evs) != 0 {
		t.Errorf("a gone client's attempt: reached the portal %v, %d state errors, %d events; want none", reached, app.errors, len(out.evs))
	}
}
