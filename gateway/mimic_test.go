package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/policy"
)

// mimicPortal answers logins like a portal: correct-horse is a success with a
// session cookie, anything else a 401 wrong password (with a tracking cookie
// and a header of its own), after slow.
type mimicPortal struct {
	slow time.Duration
	body string // the wrong-password body; default a small JSON
}

func (p mimicPortal) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	time.Sleep(p.slow)
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Portal", "demo")
	if strings.Contains(string(b), "correct-horse") {
		w.Header().Add("Set-Cookie", "portal_session=secret; Path=/; HttpOnly")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write([]byte(`{"status":"ACTIVE"}`))
		return err
	}
	body := p.body
	if body == "" {
		body = `{"code":"BAD_CREDENTIALS","message":"Wrong email or password."}`
	}
	w.Header().Add("Set-Cookie", "tracking=abc; Path=/")
	w.Header().Set("Date", "Mon, 01 Jan 2001 00:00:00 GMT")
	w.WriteHeader(http.StatusUnauthorized)
	_, err := w.Write([]byte(body))
	return err
}

const mimicConfig = `{"refusal":"mimic","lockout":{"max_failures":2,"status":403,"body":"own refusal","content_type":"text/plain"}}`

func mimicLogin(t *testing.T, h *Route, portal mimicPortal, email, password string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	if err := h.Serve(w, r, portal); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestRefusalMimicLearnsWrongPasswords: a locked account's refusal is the
// portal's last wrong-password answer without its cookies and Date; until one
// is seen it is the configured lockout response; successes are never learned.
func TestRefusalMimicLearnsWrongPasswords(t *testing.T) {
	h := provisioned(t, mimicConfig)
	if h.Refusal != "mimic" || !h.captureRsp {
		t.Fatalf("refusal %q, capture %v", h.Refusal, h.captureRsp)
	}
	portal := mimicPortal{}

	// Fallback: an account locked before the route saw a wrong password.
	if err := h.app.Store().Lock(context.Background(), AccountKey("", "locked@example.com"), time.Hour); err != nil {
		t.Fatal(err)
	}
	w := mimicLogin(t, h, portal, "locked@example.com", "x")
	if w.Code != 403 || w.Body.String() != "own refusal" || w.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("fallback: %d %q %v", w.Code, w.Body, w.Header())
	}

	// A success is never learned.
	if w := mimicLogin(t, h, portal, "ok@example.com", "correct-horse"); w.Code != 200 {
		t.Fatalf("success: %d", w.Code)
	}
	if h.mimic.answer(AccountKey("", "ok@example.com")) != nil {
		t.Fatal("a success was learned")
	}

	// The account's own wrong passwords lock it (max_failures 2).
	mimicLogin(t, h, portal, "victim@example.com", "wrong")
	wrong := mimicLogin(t, h, portal, "victim@example.com", "wrong")
	if wrong.Code != 401 || h.mimic.answer(AccountKey("", "victim@example.com")) == nil {
		t.Fatalf("wrong password: %d, learned %v", wrong.Code, h.mimic.answer(AccountKey("", "victim@example.com")))
	}
	// Another success after it leaves the learned answer alone.
	mimicLogin(t, h, portal, "ok@example.com", "correct-horse")

	w = mimicLogin(t, h, portal, "victim@example.com", "correct-horse")
	if w.Code != 401 || w.Body.String() != wrong.Body.String() {
		t.Fatalf("refusal %d %q, want the portal's 401 %q", w.Code, w.Body, wrong.Body)
	}
	if got := w.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Fatalf("refusal carries cookies %q", got)
	}
	if got := w.Header().Get("Date"); got != "" {
		t.Fatalf("refusal carries the portal's Date %q (the server sets its own)", got)
	}
	if got, want := w.Header().Get("Content-Length"), strconv.Itoa(wrong.Body.Len()); got != want {
		t.Fatalf("Content-Length %q, want %s", got, want)
	}
	for _, k := range []string{"Content-Type", "X-Portal"} {
		if w.Header().Get(k) != wrong.Header().Get(k) {
			t.Fatalf("%s %q, want the portal's %q", k, w.Header().Get(k), wrong.Header().Get(k))
		}
	}
	if w.Header().Get("Cache-Control") != wrong.Header().Get("Cache-Control") {
		t.Fatalf("Cache-Control %q differs from the portal's %q", w.Header().Get("Cache-Control"), wrong.Header().Get("Cache-Control"))
	}
}

// TestRefusalMimicSizeBound: an answer longer than the recorder keeps is not
// learned (it could not be replayed whole); the route keeps its previous one.
func TestRefusalMimicSizeBound(t *testing.T) {
	h := provisioned(t, strings.Replace(mimicConfig, `"max_failures":2`, `"max_failures":10`, 1)) // a's wrong passwords all reach the portal
	a := AccountKey("", "a@example.com")
	mimicLogin(t, h, mimicPortal{}, "a@example.com", "wrong")
	first := h.mimic.answer(a)
	if first == nil {
		t.Fatal("nothing learned")
	}
	big := `{"code":"BAD_CREDENTIALS","pad":"` + strings.Repeat("x", policy.MaxBody) + `"}`
	if w := mimicLogin(t, h, mimicPortal{body: big}, "a@example.com", "wrong"); w.Body.Len() != len(big) {
		t.Fatalf("the client got %d bytes of %d", w.Body.Len(), len(big))
	}
	if got := h.mimic.answer(a); got != first {
		t.Fatalf("an answer over %d bytes was learned (%d bytes)", policy.MaxBody, len(got.body))
	}
	exact := `{"code":"BAD_CREDENTIALS","pad":"` + strings.Repeat("x", policy.MaxBody-len(`{"code":"BAD_CREDENTIALS","pad":""}`)) + `"}`
	mimicLogin(t, h, mimicPortal{body: exact}, "a@example.com", "wrong")
	if got := h.mimic.answer(a); got == first || len(got.body) != policy.MaxBody {
		t.Fatalf("an answer of exactly %d bytes was not learned", policy.MaxBody)
	}
}

// TestRefusalMimicDelay: the refusal waits about as long as the portal took,
// and a client that hangs up during the wait is let go at once.
func TestRefusalMimicDelay(t *testing.T) {
	h := provisioned(t, mimicConfig)
	portal := mimicPortal{slow: 40 * time.Millisecond}
	mimicLogin(t, h, portal, "victim@example.com", "wrong")
	mimicLogin(t, h, portal, "victim@example.com", "wrong") // locked now
	d, ok := h.mimic.latency()
	if !ok || d < 40*time.Millisecond {
		t.Fatalf("latency %v %v, want ≥ 40ms", d, ok)
	}
	start := time.Now()
	w := mimicLogin(t, h, portal, "victim@example.com", "x")
	if took := time.Since(start); w.Code != 401 || took < 40*time.Millisecond {
		t.Fatalf("refusal %d after %v, want 401 after ≥ 40ms", w.Code, took)
	}

	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(`{"email":"victim@example.com","password":"x"}`)).WithContext(ctx)
	r.Header.Set("Content-Type", "application/json")
	cancel()
	start = time.Now()
	w = httptest.NewRecorder()
	if err := h.Serve(w, r, HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Error("a locked account's attempt reached the portal")
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Millisecond || w.Body.Len() != 0 {
		t.Fatalf("a client gone held the refusal %v and got %q", took, w.Body)
	}
}

// TestRefusalOwnIsTheDefault: without refusal, nothing is learned and the
// lockout response answers.
func TestRefusalOwnIsTheDefault(t *testing.T) {
	h := provisioned(t, `{"lockout":{"max_failures":1}}`)
	if h.Refusal != "own" || h.mimic != nil {
		t.Fatalf("refusal %q, mimic %v", h.Refusal, h.mimic)
	}
	mimicLogin(t, h, mimicPortal{}, "v@example.com", "wrong")
	w := mimicLogin(t, h, mimicPortal{}, "v@example.com", "wrong")
	if w.Code != 401 || w.Body.String() != defaultLockBody || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("own refusal: %d %q %v", w.Code, w.Body, w.Header())
	}
}

// TestRefusalMimicOwnAnswer: a locked account's refusal replays its own last
// wrong-password answer, never another visitor's: a portal's error page may
// name what was typed in it (a username, or a password typed in the username
// field), and replaying it to whoever tries a locked account would show it.
func TestRefusalMimicOwnAnswer(t *testing.T) {
	h := provisioned(t, mimicConfig)
	echo := func(name string) mimicPortal {
		return mimicPortal{body: `{"code":"BAD_CREDENTIALS","message":"Wrong password for ` + name + `."}`}
	}
	mimicLogin(t, h, echo("victim"), "victim@example.com", "wrong")
	mimicLogin(t, h, echo("victim"), "victim@example.com", "wrong") // locked now
	other := mimicLogin(t, h, echo("MySecretPw99"), "MySecretPw99", "wrong")
	if other.Code != 401 {
		t.Fatalf("another visitor's wrong password: %d", other.Code)
	}
	w := mimicLogin(t, h, echo("victim"), "victim@example.com", "correct-horse")
	if body := w.Body.String(); w.Code != 401 || strings.Contains(body, "MySecretPw99") || !strings.Contains(body, "victim") {
		t.Fatalf("the locked account's refusal: %d %q; want its own wrong-password answer", w.Code, body)
	}
}
