package pwned

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBaseURL is Have I Been Pwned's Pwned Passwords API.
const DefaultBaseURL = "https://api.pwnedpasswords.com"

// RangeOptions are the settings of NewRangeClient.
type RangeOptions struct {
	// BaseURL is the API's root: GET <BaseURL>/range/<5 hex digits>. A
	// self-hosted mirror that answers the same way works too.
	// Default: https://api.pwnedpasswords.com.
	BaseURL string
	// Timeout bounds one range request, waiting included.
	// Default: 2s.
	Timeout time.Duration
	// CacheEntries is the number of ranges kept (least recently used out),
	// about 24 KB each: one range holds the suffixes of 1/1,048,576 of the set.
	// Default: 1024 (about 24 MB). Negative: no cache.
	CacheEntries int
	// CacheTTL is how long a range is kept.
	// Default: 1h.
	CacheTTL time.Duration
	// Client sends the requests; its own Timeout applies too.
	// Default: a client of its own.
	Client *http.Client
	// UserAgent is sent with every request (the API asks for one).
	// Default: "loginguard".
	UserAgent string
}

// RangeClient checks passwords against the range API (k-anonymity: only the
// first 5 hex digits of the SHA-1 sum leave the process). It asks for padded
// answers (Add-Padding: true), so an observer of the traffic cannot guess the
// range from the answer's size; the padding entries (count 0) never match.
//
// It fails open: when the API cannot answer (a timeout, an error status, a
// malformed answer) Check returns not breached with the error, and Stats
// counts it. Concurrent checks of one range share one request. Safe for
// concurrent use.
type RangeClient struct {
	base      string
	timeout   time.Duration
	ttl       time.Duration
	hc        *http.Client
	userAgent string
	now       func() time.Time

	mu       sync.Mutex
	cache    map[uint32]*list.Element
	lru      *list.List // of *cached, most recent first
	maxCache int
	inflight map[uint32]*fetch

	requests, errs, hits, misses atomic.Uint64
}

// rangeEntry is one hash of a range, whole, and its count.
type rangeEntry struct {
	sum   [20]byte
	count uint32
}

type cached struct {
	prefix  uint32
	entries []rangeEntry
	expires time.Time
}

type fetch struct {
	done    chan struct{}
	entries []rangeEntry
	err     error
}

// NewRangeClient checks the options and returns a client.
func NewRangeClient(opts RangeOptions) (*RangeClient, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base_url %q: want an http:// or https:// URL", opts.BaseURL)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s: want a positive duration", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.CacheEntries == 0 {
		opts.CacheEntries = 1024
	}
	if opts.CacheTTL < 0 {
		return nil, fmt.Errorf("cache_ttl %s: want a positive duration", opts.CacheTTL)
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = time.Hour
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "loginguard"
	}
	return &RangeClient{
		base:      strings.TrimSuffix(opts.BaseURL, "/"),
		timeout:   opts.Timeout,
		ttl:       opts.CacheTTL,
		hc:        opts.Client,
		userAgent: opts.UserAgent,
		now:       time.Now,
		cache:     make(map[uint32]*list.Element),
		lru:       list.New(),
		maxCache:  max(opts.CacheEntries, 0),
		inflight:  make(map[uint32]*fetch),
	}, nil
}

// RangeStats are the client's counters.
type RangeStats struct {
	// Requests sent to the API, and Errors: checks answered "unknown"
	// (failed open) because the API could not answer.
	Requests, Errors uint64
	// CacheHits and CacheMisses count checks answered from the cache or not.
	CacheHits, CacheMisses uint64
	// Cached is the number of ranges in the cache.
	Cached int
}

// Stats returns the counters.
func (c *RangeClient) Stats() RangeStats {
	c.mu.Lock()
	n := c.lru.Len()
	c.mu.Unlock()
	return RangeStats{Requests: c.requests.Load(), Errors: c.errs.Load(),
		CacheHits: c.hits.Load(), CacheMisses: c.misses.Load(), Cached: n}
}

func rangePrefix(sum *[20]byte) uint32 {
	return uint32(sum[0])<<12 | uint32(sum[1])<<4 | uint32(sum[2])>>4
}

// Check implements Checker.
func (c *RangeClient) Check(ctx context.Context, sum [20]byte) (Result, error) {
	entries, err := c.rangeOf(ctx, rangePrefix(&sum))
	if err != nil {
		c.errs.Add(1)
		return Result{}, err
	}
	i, ok := slices.BinarySearchFunc(entries, sum, func(e rangeEntry, s [20]byte) int {
		return bytes.Compare(e.sum[:], s[:])
	})
	if !ok {
		return Result{}, nil
	}
	return Result{Breached: true, Count: int(entries[i].count)}, nil
}

// rangeOf returns the sorted entries of a range, from the cache or the API.
func (c *RangeClient) rangeOf(ctx context.Context, prefix uint32) ([]rangeEntry, error) {
	c.mu.Lock()
	if el, ok := c.cache[prefix]; ok {
		e := el.Value.(*cached)
		if c.now().Before(e.expires) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			c.hits.Add(1)
			return e.entries, nil
		}
		c.lru.Remove(el)
		delete(c.cache, prefix)
	}
	c.misses.Add(1)
	f, ok := c.inflight[prefix]
	if !ok {
		f = &fetch{done: make(chan struct{})}
		c.inflight[prefix] = f
		go c.fetch(prefix, f)
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	select {
	case <-f.done:
		return f.entries, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("pwned range %05X: %w", prefix, ctx.Err())
	}
}

// fetch asks the API for a range, on a context of its own (callers that give
// up do not cancel it for the others), and caches the answer.
func (c *RangeClient) fetch(prefix uint32, f *fetch) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	f.entries, f.err = c.get(ctx, prefix)
	c.mu.Lock()
	delete(c.inflight, prefix)
	if f.err == nil && c.maxCache > 0 {
		c.cache[prefix] = c.lru.PushFront(&cached{prefix: prefix, entries: f.entries, expires: c.now().Add(c.ttl)})
		for c.lru.Len() > c.maxCache {
			old := c.lru.Back()
			c.lru.Remove(old)
			delete(c.cache, old.Value.(*cached).prefix)
		}
	}
	c.mu.Unlock()
	close(f.done)
}

// maxRangeBody bounds an answer: a real one is about 40 KB with padding.
const maxRangeBody = 4 << 20

func (c *RangeClient) get(ctx context.Context, prefix uint32) ([]rangeEntry, error) {
	c.requests.Add(1)
	u := fmt.Sprintf("%s/range/%05X", c.base, prefix)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("pwned range %05X: %w", prefix, err)
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pwned range %05X: %w", prefix, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("pwned range %05X: HTTP %d from %s", prefix, resp.StatusCode, c.base)
	}
	entries, err := parseRange(prefix, io.LimitReader(resp.Body, maxRangeBody))
	if err != nil {
		return nil, fmt.Errorf("pwned range %05X: %w", prefix, err)
	}
	return entries, nil
}

// parseRange reads an answer of the range API for prefix: lines
// "SUFFIX:COUNT" (35 hex digits, either case), CRLF or LF. Entries of count 0
// (padding) are dropped.
func parseRange(prefix uint32, r io.Reader) ([]rangeEntry, error) {
	sc := bufio.NewScanner(r)
	var out []rangeEntry
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" {
			continue
		}
		suf, cnt, ok := strings.Cut(t, ":")
		if !ok || len(suf) != 35 {
			return nil, fmt.Errorf("answer line %d: want 35 hex digits, a colon and a count", line)
		}
		var e rangeEntry
		e.sum[0], e.sum[1], e.sum[2] = byte(prefix>>12), byte(prefix>>4), byte(prefix<<4)
		for i := 0; i < 35; i++ {
			d := hexVal[suf[i]]
			if d > 15 {
				return nil, fmt.Errorf("answer line %d: want 35 hex digits, a colon and a count", line)
			}
			nib := 5 + i // the nibble's place in the sum
			if nib%2 == 0 {
				e.sum[nib/2] |= d << 4
			} else {
				e.sum[nib/2] |= d
			}
		}
		n, err := strconv.ParseUint(cnt, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("answer line %d: the count is not a whole number", line)
		}
		if n == 0 {
			continue // padding
		}
		e.count = uint32(min(n, 1<<32-1))
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b rangeEntry) int { return bytes.Compare(a.sum[:], b.sum[:]) })
	return out, nil
}

var _ Checker = (*RangeClient)(nil)
var _ Checker = (*Filter)(nil)
