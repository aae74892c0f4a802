//go:build linux

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state/redisstate"
)

// The Sentinel set-up of the failover tests: the master's name, how long a
// primary may not answer before the sentinels call it down, and the failover
// timeout (also the time before a failed election is tried again, twice it).
const (
	sentinelMaster          = "lgfailover"
	sentinelDownAfter       = 1000 * time.Millisecond
	sentinelFailoverTimeout = 3000 * time.Millisecond
)

// followBound is how long after the sentinels name the new primary the gateway
// may take to count on it again: go-redis learns the new address from the
// sentinels' +switch-master message, or asks a sentinel on its next dial, but
// after as many failed dials as its pool has connections it dials only once a
// second until one succeeds. The rest is a margin for a machine whose cores
// are all busy.
const followBound = 2500 * time.Millisecond

// replicaLagBound is how far behind the primary a healthy, connected replica
// is taken to be: the failures counted on the old primary within this time
// before it died may be lost with it; earlier ones must have survived.
const replicaLagBound = time.Second

// TestRedisSentinelFailover: Caddy's lockout state in a Redis primary with one
// replica watched by three sentinels (redis+sentinel://), under login load:
// wrong passwords on three accounts, right passwords on a fourth, and the
// right password on an account locked before the failover. The primary is
// killed (SIGKILL) and the sentinels promote the replica. Measured and
// asserted, in both on_state_error modes:
//
//   - during the failover no answer is a 5xx (fail_open), or only 503 with
//     Retry-After (fail_closed);
//   - the locked account is refused again within followBound of the promotion,
//     its lock having survived on the replica; fail_open lets its attempts
//     through during the gap, fail_closed never;
//   - failures count on the new primary from what the replica held, and a lock
//     set after the failover is enforced;
//   - what the failover lost (failures acknowledged by the old primary, missing
//     on the replica when it was promoted) is logged, and bounded by the
//     failures counted within replicaLagBound before the kill;
//   - fail_closed: no attempt reaches the portal uncounted, except the one per
//     account that was at the portal when the primary died.
func TestRedisSentinelFailover(t *testing.T) {
	for _, mode := range []string{"fail_open", "fail_closed"} {
		t.Run(mode, func(t *testing.T) { sentinelFailover(t, mode) })
	}
}

// The accounts of the load (all demo portal accounts, password "correct-horse").
var (
	countedEmails = []string{"disabled@example.com", "waiting@example.com", "unconfirmed@example.com"}
	successEmail  = "active@example.com"
	lockedEmail   = "rejected@example.com"    // locked before the failover
	lateLockEmail = "notapproved@example.com" // locked after it
)

func sentinelFailover(t *testing.T, mode string) {
	rig := startSentinelRig(t)
	ctx := context.Background()
	cf := config{
		App: "state " + rig.url() + "\n\t\ton_state_error " + mode,
		Handler: `lockout {
			max_failures 1000000
			locked_events all
		}
		rate_limit {
			ip 1000000-M
		}`,
	}.String()
	s := newStack(t, stackOptions{Caddyfile: cf})
	direct := 0 // attempts this test makes outside the load

	// The lock, set as an admin's is, through the same Sentinel URL.
	store, err := redisstate.New(ctx, redisstate.Options{URL: rig.url()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Lock(ctx, lockedEmail, time.Hour); err != nil {
		t.Fatalf("locking %s through the sentinels: %v", lockedEmail, err)
	}
	direct++
	if resp, body := s.login(lockedEmail, password); resp.StatusCode != 401 || !strings.Contains(body, "AUTHENTICATION_FAILED") {
		t.Fatalf("the locked account before the failover: %d %s", resp.StatusCode, body)
	}

	l := startLoad(s.url)
	defer l.halt()
	// At least 2 s of load (100 attempts 20 ms apart), so that most of what
	// the old primary counted is older than replicaLagBound.
	waitWithin(t, "100 answers on every counted account", 60*time.Second, func() bool {
		return l.minAnswers(countedEmails, time.Time{}) >= 100
	})

	// The lock is on the replica before the primary dies.
	replicaStore, err := redisstate.New(ctx, redisstate.Options{URL: "redis://" + rig.replica.addr})
	if err != nil {
		t.Fatal(err)
	}
	defer replicaStore.Close()
	waitWithin(t, "the lock to reach the replica", 10*time.Second, func() bool {
		st, err := replicaStore.Status(ctx, lockedEmail)
		return err == nil && st.Locked
	})

	killedAt := time.Now()
	rig.primary.kill()

	// What the replica holds now is what the new primary starts from: nothing
	// writes to it before the sentinels promote it, at least down-after later.
	survived := map[string]int{}
	for _, e := range countedEmails {
		st, err := replicaStore.Status(ctx, e)
		if err != nil {
			t.Fatalf("reading %s on the replica: %v", e, err)
		}
		survived[e] = st.Failures
	}
	if role := info(t, rig.replica.addr)["role"]; role != "slave" {
		t.Fatalf("the replica was promoted (role %s) before the test read its counts", role)
	}

	promotedAt := rig.waitPromotion(t)

	// Refusals resume: the locked account's attempts are refused again, ten in
	// a row, all sent after the promotion.
	waitWithin(t, "the locked account to be refused again", followBound+30*time.Second, func() bool {
		return l.refusedRun(lockedEmail, promotedAt) >= 10
	})
	resumedAt := l.resumedAt(lockedEmail, killedAt)

	// Counting continues on the new primary, and a lock set there holds.
	if err := store.Lock(ctx, lateLockEmail, time.Hour); err != nil {
		t.Fatalf("locking %s on the new primary: %v", lateLockEmail, err)
	}
	direct++
	if resp, body := s.login(lateLockEmail, password); resp.StatusCode != 401 || !strings.Contains(body, "AUTHENTICATION_FAILED") {
		t.Fatalf("an account locked after the failover: %d %s", resp.StatusCode, body)
	}
	direct++
	if resp, _ := s.login(successEmail, password); resp.StatusCode != 200 {
		t.Errorf("the right password after the failover: %d", resp.StatusCode)
	}
	waitWithin(t, "20 answers on every counted account after the refusals resumed", 30*time.Second, func() bool {
		return l.minAnswers(countedEmails, resumedAt) >= 20
	})
	l.halt()

	answered := l.total() + direct
	evs := waitAttempts(t, s.readEvents, answered)
	received := s.received()

	// No answer is a 5xx of the gateway's own, other than fail_closed's 503.
	for _, p := range l.all() {
		switch {
		case p.err != "":
			t.Errorf("%s: sent %v after the kill: %s", p.email, p.sent.Sub(killedAt).Round(time.Millisecond), p.err)
		case p.status == http.StatusServiceUnavailable && mode == "fail_closed":
			if p.retryAfter == "" {
				t.Errorf("%s: 503 without Retry-After", p.email)
			}
		case p.status >= 500:
			t.Errorf("%s: %d (%s mode), sent %v after the kill", p.email, p.status, mode, p.sent.Sub(killedAt).Round(time.Millisecond))
		case p.email == successEmail && p.status != 200:
			t.Errorf("the right password of %s: %d, sent %v after the kill", p.email, p.status, p.sent.Sub(killedAt).Round(time.Millisecond))
		}
	}

	// The locked account: refused before, refused again after, and in the gap
	// let through (fail_open) or answered 503 (fail_closed).
	gap := map[int]int{}
	for _, p := range l.of(lockedEmail) {
		if p.status == 401 {
			continue
		}
		if p.sent.Before(killedAt.Add(-50 * time.Millisecond)) {
			t.Errorf("the locked account got %d before the kill", p.status)
		}
		gap[p.status]++
	}
	switch mode {
	case "fail_open":
		if received[lockedEmail] == 0 || gap[403] != received[lockedEmail] {
			t.Errorf("fail_open: the locked account's answers in the gap %v, the portal received %d: want its attempts let through", gap, received[lockedEmail])
		}
	case "fail_closed":
		if received[lockedEmail] != 0 || len(gap) != 1 || gap[503] == 0 {
			t.Errorf("fail_closed: the locked account's answers in the gap %v, the portal received %d: want 503s and nothing at the portal", gap, received[lockedEmail])
		}
	}
	if d := resumedAt.Sub(promotedAt); d > followBound {
		t.Errorf("refusals resumed %v after the promotion, want within %v", d.Round(time.Millisecond), followBound)
	}
	// Counts: acknowledged by the old primary, held by the replica, counted on
	// the new primary, and received by the portal.
	totalLost, totalRecent := 0, 0
	for _, e := range countedEmails {
		acked, recent := 0, 0
		for _, ev := range evs {
			if str(ev.Email) != e || ev.Reason != event.BadCredentials || !ev.EventDate.Before(killedAt) {
				continue
			}
			acked = max(acked, ev.FailureCount)
			if ev.FailureCount > 0 && ev.EventDate.After(killedAt.Add(-replicaLagBound)) {
				recent++
			}
		}
		st, err := store.Status(ctx, e)
		if err != nil {
			t.Fatalf("reading %s on the new primary: %v", e, err)
		}
		lost := acked - survived[e]
		counted := st.Failures - survived[e]
		uncounted := received[e] - acked - counted
		after := l.sentAfter(e, resumedAt)
		t.Logf("%s: old primary acknowledged %d failures, the replica held %d (lost %d; %d counted in the last %v before the kill), the new primary counted %d more (%d attempts sent after the refusals resumed); the portal received %d, %d of them never counted",
			e, acked, survived[e], lost, recent, replicaLagBound, counted, after, received[e], uncounted)
		if lost < 0 || lost > recent {
			t.Errorf("%s: %d failures lost, want between 0 and the %d counted in the last %v before the kill", e, lost, recent, replicaLagBound)
		}
		if counted < after {
			t.Errorf("%s: the new primary counted %d failures, fewer than the %d attempts sent after the refusals resumed", e, counted, after)
		}
		if uncounted < 0 {
			t.Errorf("%s: the portal received %d, fewer than the %d failures counted", e, received[e], acked+counted)
		}
		if mode == "fail_closed" && uncounted > 1 {
			t.Errorf("fail_closed: %d of %s's attempts reached the portal uncounted, want at most the one at the portal when the primary died", uncounted, e)
		}
		totalLost += lost
		totalRecent += recent
	}
	first, last := killedAt, killedAt
	for _, p := range l.all() {
		if p.sent.Before(first) {
			first = p.sent
		}
		if p.sent.After(last) {
			last = p.sent
		}
	}
	t.Logf("%s: promoted %v after the kill; locked account refused again %v after the kill (%v after the promotion); its answers in the gap %v; %d failures lost of %d counted in the last %v; %d answers in all, %.0f a second",
		mode, promotedAt.Sub(killedAt).Round(time.Millisecond), resumedAt.Sub(killedAt).Round(time.Millisecond),
		resumedAt.Sub(promotedAt).Round(time.Millisecond), gap, totalLost, totalRecent, replicaLagBound, answered, float64(answered)/last.Sub(first).Seconds())
}

// waitWithin polls cond every 20 ms until it holds, or fails t after d.
func waitWithin(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --- the load --------------------------------------------------------------------

// answer is one login attempt of the load.
type answer struct {
	email      string
	sent       time.Time
	status     int
	retryAfter string
	err        string
}

// load sends logins until halted: wrong passwords on each counted account, the
// right password on the success account and on the locked one, each account
// from one goroutine, one attempt after the other.
type load struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	mu      sync.Mutex
	answers map[string][]answer
}

func startLoad(base string) *load {
	l := &load{stop: make(chan struct{}), answers: map[string][]answer{}}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	cl := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	for _, e := range countedEmails {
		l.run(cl, base, e, false, 20*time.Millisecond)
	}
	l.run(cl, base, successEmail, true, 10*time.Millisecond)
	l.run(cl, base, lockedEmail, true, 20*time.Millisecond)
	return l
}

func (l *load) run(cl *http.Client, base, email string, right bool, pause time.Duration) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-time.After(pause):
			}
			pw := password
			if !right {
				pw = fmt.Sprint("guess-", i)
			}
			a := answer{email: email, sent: time.Now()}
			resp, err := cl.Post(base+"/api/login", "application/json",
				strings.NewReader(`{"email":"`+email+`","password":"`+pw+`"}`))
			if err != nil {
				a.err = err.Error()
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
			}
			l.mu.Lock()
			l.answers[email] = append(l.answers[email], a)
			l.mu.Unlock()
		}
	}()
}

// halt stops the load and waits for its last attempts.
func (l *load) halt() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

func (l *load) of(email string) []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.answers[email])
}

func (l *load) all() []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []answer
	for _, as := range l.answers {
		out = append(out, as...)
	}
	return out
}

// total is the number of attempts answered (a failed request has no event).
func (l *load) total() int {
	n := 0
	for _, a := range l.all() {
		if a.err == "" {
			n++
		}
	}
	return n
}

// sentAfter counts email's answered attempts sent after t.
func (l *load) sentAfter(email string, t time.Time) int {
	n := 0
	for _, a := range l.of(email) {
		if a.err == "" && a.sent.After(t) {
			n++
		}
	}
	return n
}

// minAnswers is the fewest attempts sent after t on any of emails.
func (l *load) minAnswers(emails []string, t time.Time) int {
	least := -1
	for _, e := range emails {
		if n := l.sentAfter(e, t); least < 0 || n < least {
			least = n
		}
	}
	return least
}

// refusedRun is the number of email's last attempts that were refused (401),
// counting only those sent after t.
func (l *load) refusedRun(email string, t time.Time) int {
	as := l.of(email)
	n := 0
	for i := len(as) - 1; i >= 0 && as[i].status == 401 && as[i].sent.After(t); i-- {
		n++
	}
	return n
}

// resumedAt is when email's refusals resumed after t: the sending time of the
// first attempt of its last run of 401s, or t when every attempt after t was
// refused.
func (l *load) resumedAt(email string, t time.Time) time.Time {
	as := l.of(email)
	at := t
	for i := len(as) - 1; i >= 0 && as[i].sent.After(t); i-- {
		if as[i].status != 401 {
			break
		}
		at = as[i].sent
	}
	return at
}

// --- Redis with Sentinel ---------------------------------------------------------

// redisProc is one disposable redis-server or redis-sentinel process, killed
// when the test ends (and with the test binary).
type redisProc struct {
	addr string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedisProc starts bin with the arguments args gives for a free port and
// waits until it answers PING; it tries three ports before failing t.
func startRedisProc(t *testing.T, dir, bin string, args func(port int, log string) []string) *redisProc {
	t.Helper()
	var last string
	for range 3 {
		port := freePort(t)
		p := &redisProc{
			addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			log:  filepath.Join(dir, fmt.Sprintf("%s-%d.log", filepath.Base(bin), port)),
			done: make(chan struct{}),
		}
		p.cmd = exec.Command(bin, args(port, p.log)...)
		p.cmd.Dir = dir
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", bin, err)
		}
		go func() { _ = p.cmd.Wait(); close(p.done) }()
		if p.waitPing() {
			t.Cleanup(p.kill)
			return p
		}
		p.kill()
		b, _ := os.ReadFile(p.log)
		last = string(b)
	}
	t.Fatalf("%s did not start on three ports; its last log:\n%s", bin, last)
	return nil
}

func (p *redisProc) waitPing() bool {
	c := redis.NewClient(&redis.Options{Addr: p.addr, DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// kill kills the process (SIGKILL) and waits until it is gone.
func (p *redisProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// sentinelRig is a Redis primary, one replica and three sentinels watching
// them (quorum 2), all on free local ports, without persistence.
type sentinelRig struct {
	primary, replica *redisProc
	sentinels        []*redisProc
	clients          []*redis.SentinelClient // of each sentinel
}

// startSentinelRig starts the rig and waits until the replica is in sync and
// every sentinel knows the replica and the two other sentinels. A missing
// redis-server or redis-sentinel fails the test.
func startSentinelRig(t *testing.T) *sentinelRig {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found on PATH: install the Debian package redis-server (test.sh does)")
	}
	sentinel, err := exec.LookPath("redis-sentinel")
	if err != nil {
		t.Fatal("redis-sentinel not found on PATH: install the Debian package redis-sentinel (test.sh does)")
	}
	dir := t.TempDir()
	serverArgs := func(more ...string) func(int, string) []string {
		return func(port int, log string) []string {
			return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
				"--appendonly", "no", "--daemonize", "no", "--dir", dir, "--logfile", log}, more...)
		}
	}
	r := &sentinelRig{}
	r.primary = startRedisProc(t, dir, server, serverArgs())
	host, port, _ := net.SplitHostPort(r.primary.addr)
	r.replica = startRedisProc(t, dir, server, serverArgs("--replicaof", host, port))
	for range 3 {
		r.sentinels = append(r.sentinels, startRedisProc(t, dir, sentinel, func(p int, log string) []string {
			// A sentinel rewrites its configuration file: one file each.
			conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", p))
			text := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
logfile %s
sentinel monitor %s %s %s 2
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s %d
sentinel parallel-syncs %s 1
`, p, dir, log, sentinelMaster, host, port, sentinelMaster, sentinelDownAfter.Milliseconds(),
				sentinelMaster, sentinelFailoverTimeout.Milliseconds(), sentinelMaster)
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{conf}
		}))
	}
	for _, sp := range r.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sp.addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		r.clients = append(r.clients, c)
	}
	waitWithin(t, "the replica to sync with the primary", 30*time.Second, func() bool {
		return info(t, r.replica.addr)["master_link_status"] == "up"
	})
	for i, sp := range r.sentinels {
		waitWithin(t, "sentinel "+sp.addr+" to know the replica and the two other sentinels", 30*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			m, err := r.clients[i].Master(ctx, sentinelMaster).Result()
			return err == nil && m["num-other-sentinels"] == "2" && m["num-slaves"] == "1" && m["flags"] == "master"
		})
	}
	return r
}

// url is the rig's redis+sentinel:// URL.
func (r *sentinelRig) url() string {
	var addrs []string
	for _, s := range r.sentinels {
		addrs = append(addrs, s.addr)
	}
	return "redis+sentinel://" + strings.Join(addrs, ",") + "/" + sentinelMaster
}

// waitPromotion waits until a sentinel names the replica as the primary and
// returns when it first did.
func (r *sentinelRig) waitPromotion(t *testing.T) time.Time {
	t.Helper()
	var at time.Time
	waitWithin(t, "the sentinels to promote the replica", 60*time.Second, func() bool {
		for _, c := range r.clients {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			addr, err := c.GetMasterAddrByName(ctx, sentinelMaster).Result()
			cancel()
			if err == nil && len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == r.replica.addr {
				at = time.Now()
				return true
			}
		}
		return false
	})
	return at
}

// info returns the replication section of INFO of the Redis at addr, field by
// field (nothing when it does not answer).
func info(t *testing.T, addr string) map[string]string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	text, err := c.Info(ctx, "replication").Result()
	out := map[string]string{}
	if err != nil {
		return out
	}
	for line := range strings.SplitSeq(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}
