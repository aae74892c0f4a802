package pwned

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rangeAPI answers like the Pwned Passwords range API: GET /range/{5 hex},
// upper-case 35-digit suffixes with counts, CRLF, and with Add-Padding: true
// padding entries of count 0 (here including extra suffixes the test names).
type rangeAPI struct {
	counts   map[[20]byte]int
	padding  map[[20]byte]bool // hashes given as padding entries
	delay    time.Duration
	status   atomic.Int32 // when not 0, answer this status
	requests atomic.Int64
	padded   atomic.Int64 // requests that asked for padding
}

func (a *rangeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	if s := a.status.Load(); s != 0 {
		http.Error(w, "try later", int(s))
		return
	}
	prefix, ok := strings.CutPrefix(r.URL.Path, "/range/")
	if !ok || len(prefix) != 5 {
		http.Error(w, "The hash prefix was not in a valid format", http.StatusBadRequest)
		return
	}
	pad := r.Header.Get("Add-Padding") == "true"
	if pad {
		a.padded.Add(1)
	}
	var lines []string
	emit := func(s [20]byte, n int) {
		h := strings.ToUpper(hex.EncodeToString(s[:]))
		if strings.EqualFold(h[:5], prefix) {
			lines = append(lines, fmt.Sprintf("%s:%d", h[5:], n))
		}
	}
	for s, n := range a.counts {
		emit(s, n)
	}
	if pad {
		for s := range a.padding {
			emit(s, 0)
		}
		for range 800 {
			lines = append(lines, fmt.Sprintf("%035X:0", rand.Uint64()))
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, strings.Join(lines, "\r\n"))
}

func newRangeAPI(t *testing.T, a *rangeAPI) *httptest.Server {
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv
}

func TestRangeClient(t *testing.T) {
	sums := randomSums(3, 21)
	// A hash that shares its range with a breached one and is given only as
	// padding: it must not match.
	padOnly := sums[0]
	padOnly[19] ^= 0xff
	api := &rangeAPI{counts: map[[20]byte]int{sums[0]: 3861493, sums[1]: 1}, padding: map[[20]byte]bool{padOnly: true}}
	srv := newRangeAPI(t, api)
	c, err := NewRangeClient(RangeOptions{BaseURL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		sum   [20]byte
		want  Result
		label string
	}{
		{sums[0], Result{Breached: true, Count: 3861493}, "breached"},
		{sums[1], Result{Breached: true, Count: 1}, "breached once"},
		{sums[2], Result{}, "not breached"},
		{padOnly, Result{}, "a padding entry"},
		{sums[0], Result{Breached: true, Count: 3861493}, "breached, cached"},
	} {
		got, err := c.Check(ctx, tc.sum)
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.label, got, err, tc.want)
		}
	}
	// The password's well-known case: SHA-1 of "password".
	st := c.Stats()
	if st.Requests != 3 || api.requests.Load() != 3 || api.padded.Load() != 3 {
		t.Errorf("%d requests (%d at the API, %d padded), want 3 padded: sums[0] and padOnly share a range", st.Requests, api.requests.Load(), api.padded.Load())
	}
	if st.CacheHits != 2 || st.Errors != 0 || st.Cached != 3 {
		t.Errorf("stats %+v, want 2 hits, no error, 3 ranges cached", st)
	}
}

func TestRangeClientKnownPassword(t *testing.T) {
	sum := Sum([]byte("password"))
	if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8" {
		t.Fatalf("Sum(password) = %s", got)
	}
	var path atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		fmt.Fprint(w, "003D68EB55068C33ACE09247EE4C639306B:3\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD8:52256179\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD9:0")
	}))
	defer srv.Close()
	c, _ := NewRangeClient(RangeOptions{BaseURL: srv.URL})
	got, err := c.Check(context.Background(), sum)
	if err != nil || got != (Result{Breached: true, Count: 52256179}) {
		t.Fatalf("Check(password) = %+v %v", got, err)
	}
	if p := path.Load(); p != "/range/5BAA6" {
		t.Errorf("asked %v, want /range/5BAA6", p)
	}
}

// A slow API fails open within the timeout, and the error is counted.
func TestRangeClientTimeout(t *testing.T) {
	api := &rangeAPI{counts: map[[20]byte]int{}, delay: 5 * time.Second}
	srv := newRangeAPI(t, api)
	c, _ := NewRangeClient(RangeOptions{BaseURL: srv.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	got, err := c.Check(context.Background(), randomSums(1, 22)[0])
	took := time.Since(start)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || got.Breached {
		t.Fatalf("Check against a slow API: %+v %v, want a deadline error, not breached", got, err)
	}
	if took < 200*time.Millisecond || took > 3*time.Second {
		t.Errorf("took %s with a 200ms timeout", took)
	}
	if st := c.Stats(); st.Errors != 1 || st.Cached != 0 {
		t.Errorf("stats %+v, want 1 error and nothing cached", st)
	}
	// The caller's own deadline applies too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Check(ctx, randomSums(1, 23)[0]); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller's deadline: %v", err)
	}
}

// An error status fails open, is not cached, and the next check asks again.
func TestRangeClientErrorStatus(t *testing.T) {
	sum := randomSums(1, 24)[0]
	api := &rangeAPI{counts: map[[20]byte]int{sum: 9}}
	api.status.Store(http.StatusServiceUnavailable)
	srv := newRangeAPI(t, api)
	c, _ := NewRangeClient(RangeOptions{BaseURL: srv.URL})
	got, err := c.Check(context.Background(), sum)
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") || got.Breached {
		t.Fatalf("Check on 503: %+v %v", got, err)
	}
	api.status.Store(0)
	got, err = c.Check(context.Background(), sum)
	if err != nil || got != (Result{Breached: true, Count: 9}) {
		t.Fatalf("Check after recovery: %+v %v", got, err)
	}
	if st := c.Stats(); st.Errors != 1 || st.Requests != 2 {
		t.Errorf("stats %+v, want 1 error of 2 requests", st)
	}
}

func TestRangeClientMalformedAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html>captive portal</html>")
	}))
	defer srv.Close()
	c, _ := NewRangeClient(RangeOptions{BaseURL: srv.URL})
	if got, err := c.Check(context.Background(), randomSums(1, 25)[0]); err == nil || got.Breached {
		t.Fatalf("Check of a malformed answer: %+v %v", got, err)
	}
}

// The cache keeps the most recently used ranges, up to CacheEntries.
func TestRangeClientLRU(t *testing.T) {
	api := &rangeAPI{counts: map[[20]byte]int{}}
	srv := newRangeAPI(t, api)
	c, _ := NewRangeClient(RangeOptions{BaseURL: srv.URL, CacheEntries: 2})
	s := randomSums(3, 26)
	ctx := context.Background()
	for _, i := range []int{0, 1, 0, 2, 0, 1} {
		c.Check(ctx, s[i])
	}
	// 0 miss, 1 miss, 0 hit, 2 miss (evicts 1), 0 hit, 1 miss
	if got := api.requests.Load(); got != 4 {
		t.Errorf("%d requests, want 4", got)
	}
	if st := c.Stats(); st.Cached != 2 || st.CacheHits != 2 {
		t.Errorf("stats %+v, want 2 cached, 2 hits", st)
	}
}

// Concurrent checks of one range share one request.
func TestRangeClientSharesRequests(t *testing.T) {
	api := &rangeAPI{counts: map[[20]byte]int{}, delay: 100 * time.Millisecond}
	srv := newRangeAPI(t, api)
	c, _ := NewRangeClient(RangeOptions{BaseURL: srv.URL})
	s := randomSums(1, 27)[0]
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Check(context.Background(), s); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := api.requests.Load(); got != 1 {
		t.Errorf("%d requests for one range, want 1", got)
	}
}

func TestNewRangeClientErrors(t *testing.T) {
	for _, tc := range []struct {
		opts RangeOptions
		want string
	}{
		{RangeOptions{BaseURL: "ftp://x"}, "base_url"},
		{RangeOptions{BaseURL: "api.pwnedpasswords.com"}, "base_url"},
		{RangeOptions{Timeout: -time.Second}, "timeout"},
		{RangeOptions{CacheTTL: -time.Second}, "cache_ttl"},
	} {
		if _, err := NewRangeClient(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %s", tc.opts, err, tc.want)
		}
	}
}
