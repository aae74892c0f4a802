// Package connectortest is the conformance suite every connector runs: it
// delivers batches through the Connector interface and checks, through the
// sink's own read-back, that every event arrives whole, in order and framed.
package connectortest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// Sink describes a connector under test and how to read back what it delivered.
type Sink struct {
	// New returns a fresh, empty connector. Run calls it once per subtest, with
	// the subtest's t; the subtests run one after another.
	New func(t *testing.T) connectors.Connector
	// Read returns the events the sink holds now, decoded, in delivery order.
	// Run calls it with the same t as the New whose connector it reads, before
	// and after that connector is closed. It fails t when the sink holds
	// anything that does not decode to an event (a broken line or record).
	Read func(t *testing.T) []event.Event
}

// Run runs the conformance suite against s.
func Run(t *testing.T, s Sink) {
	t.Helper()
	if s.New == nil || s.Read == nil {
		t.Fatal("connectortest: Sink needs both New and Read")
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, s) })
	t.Run("Order", func(t *testing.T) { testOrder(t, s) })
	t.Run("TenThousand", func(t *testing.T) { testTenThousand(t, s) })
	t.Run("Redelivery", func(t *testing.T) { testRedelivery(t, s) })
	t.Run("Close", func(t *testing.T) { testClose(t, s) })
	t.Run("ConcurrentDeliver", func(t *testing.T) { testConcurrent(t, s) })
	t.Run("HostileText", func(t *testing.T) { testHostileText(t, s) })
}

// deliver calls Deliver with a bounded context and fails t on error.
func deliver(t *testing.T, c connectors.Connector, batch []event.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Deliver(ctx, batch); err != nil {
		t.Fatalf("Deliver of %d events: %v", len(batch), err)
	}
}

// closeConn closes c and fails t on error.
func closeConn(t *testing.T, c connectors.Connector) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// Want returns ev as a sink gives it back: eventDate in UTC, truncated to
// milliseconds (event.DateLayout).
func Want(ev event.Event) event.Event {
	ev.EventDate = ev.EventDate.UTC().Truncate(time.Millisecond)
	return ev
}

// Diff names the first field in which got differs from the delivered event
// want, once encoded and decoded ("" when none does). Nullable fields must keep
// their nil-ness; eventDate must be the same instant to the millisecond.
func Diff(got, want event.Event) string {
	want = Want(want)
	strs := []struct {
		name      string
		got, want string
	}{
		{"id", got.ID, want.ID},
		{"source", string(got.Source), string(want.Source)},
		{"eventType", string(got.EventType), string(want.EventType)},
		{"remoteAddress", got.RemoteAddress, want.RemoteAddress},
		{"reason", string(got.Reason), string(want.Reason)},
		{"userAgent", got.UserAgent, want.UserAgent},
		{"host", got.Host, want.Host},
		{"path", got.Path, want.Path},
		{"traceId", got.TraceID, want.TraceID},
	}
	for _, f := range strs {
		if f.got != f.want {
			return f.name
		}
	}
	ptrs := []struct {
		name      string
		got, want *string
	}{
		{"principal", got.Principal, want.Principal},
		{"email", got.Email, want.Email},
		{"displayName", got.DisplayName, want.DisplayName},
		{"message", got.Message, want.Message},
		{"errorType", got.ErrorType, want.ErrorType},
		{"portalId", got.PortalID, want.PortalID},
		{"accountId", got.AccountID, want.AccountID},
	}
	for _, f := range ptrs {
		if (f.got == nil) != (f.want == nil) || (f.got != nil && *f.got != *f.want) {
			return f.name
		}
	}
	if !got.EventDate.Equal(want.EventDate) {
		return "eventDate"
	}
	if got.FailureCount != want.FailureCount {
		return "failureCount"
	}
	return ""
}

// show renders an event for a failure message.
func show(ev event.Event) string {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Sprintf("%+v", ev)
	}
	return string(b)
}

// compare fails t unless got is exactly want, encoded and decoded.
func compare(t *testing.T, got, want []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read back %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if f := Diff(got[i], want[i]); f != "" {
			t.Fatalf("event %d differs in %s:\n got  %s\n want %s", i, f, show(got[i]), show(Want(want[i])))
		}
	}
}

// seq returns n ordinary events with distinct ids and dates.
func seq(prefix string, n int) []event.Event {
	base := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.Event{
			ID:            fmt.Sprintf("%s-%06d", prefix, i),
			Source:        event.SourceManager,
			Principal:     event.Str(fmt.Sprintf("user%d", i%97)),
			EventDate:     base.Add(time.Duration(i) * time.Millisecond),
			EventType:     event.LoginSuccess,
			RemoteAddress: fmt.Sprintf("198.51.100.%d", i%250),
		}
		if i%3 == 1 {
			out[i].EventType = event.LoginFailure
			out[i].Reason = event.BadCredentials
			out[i].Message = event.Str("Bad credentials")
			out[i].FailureCount = i%5 + 1
		}
	}
	return out
}

func testRoundTrip(t *testing.T, s Sink) {
	paris := time.FixedZone("CEST", 2*60*60)
	batch := []event.Event{
		// The connector event's manager success: every nullable field null, no extension.
		{
			ID:            event.NewID(),
			Source:        event.SourceManager,
			Principal:     event.Str("username"),
			EventDate:     time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC),
			EventType:     event.LoginSuccess,
			RemoteAddress: "1.2.3.4",
		},
		// A portal failure with every field and extension set, in another zone
		// and with sub-millisecond digits that the encoding drops.
		{
			ID:            event.NewID(),
			Source:        event.SourcePortal,
			Email:         event.Str("user@example.com"),
			DisplayName:   event.Str("Full Name"),
			EventDate:     time.Date(2026, 3, 31, 12, 5, 7, 123456789, paris),
			EventType:     event.LoginFailure,
			RemoteAddress: "2001:db8::5",
			Message:       event.Str("Account user@example.com failed authentication due to 3 failed login attempts"),
			ErrorType:     event.Str("org.springframework.security.authentication.BadCredentialsException"),
			PortalID:      event.Str("portal-abc123"),
			AccountID:     event.Str("account-xyz789"),
			Reason:        event.BadCredentials,
			FailureCount:  3,
			UserAgent:     "Mozilla/5.0 (X11; Linux x86_64)",
			Host:          "portal.example.com",
			Path:          "/auth/login",
			TraceID:       "4bf92f3577b34da6a3ce929d0e0e4736",
		},
		// Lock and logout events; an empty but non-null message stays empty.
		{
			ID:            event.NewID(),
			Source:        event.SourcePortal,
			Email:         event.Str("user@example.com"),
			EventDate:     time.Date(2026, 3, 31, 10, 1, 0, 999000000, time.UTC),
			EventType:     event.AccountLocked,
			RemoteAddress: "5.6.7.8",
			Message:       new(string),
			Reason:        event.Locked,
			FailureCount:  5,
		},
		{
			ID:            event.NewID(),
			Source:        event.SourceManager,
			Principal:     event.Str("admin"),
			EventDate:     time.Date(2026, 3, 31, 23, 59, 59, 1000000, time.UTC),
			EventType:     event.Logout,
			RemoteAddress: "10.0.0.1",
		},
	}
	c := s.New(t)
	deliver(t, c, batch)
	got := s.Read(t)
	compare(t, got, batch)
	for i, ev := range got {
		if ev.EventDate.Location() != time.UTC {
			t.Errorf("event %d: eventDate in %v, want UTC", i, ev.EventDate.Location())
		}
		if ev.EventDate.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("event %d: eventDate %v has more than milliseconds", i, ev.EventDate)
		}
	}
	if got[0].Email != nil || got[0].DisplayName != nil || got[0].Message != nil || got[0].ErrorType != nil ||
		got[0].PortalID != nil || got[0].AccountID != nil {
		t.Errorf("null fields came back non-null: %s", show(got[0]))
	}
	if got[2].Message == nil || *got[2].Message != "" {
		t.Errorf("an empty message came back as %v, want an empty string", got[2].Message)
	}
	closeConn(t, c)
}

func testOrder(t *testing.T, s Sink) {
	c := s.New(t)
	all := seq("order", 60)
	for _, b := range [][2]int{{0, 1}, {1, 20}, {20, 21}, {21, 60}} {
		deliver(t, c, all[b[0]:b[1]])
	}
	compare(t, s.Read(t), all)
	closeConn(t, c)
}

func testTenThousand(t *testing.T, s Sink) {
	c := s.New(t)
	all := seq("bulk", 10000)
	for i := 0; i < len(all); i += 500 {
		deliver(t, c, all[i:i+500])
	}
	compare(t, s.Read(t), all)
	closeConn(t, c)
}

func testRedelivery(t *testing.T, s Sink) {
	c := s.New(t)
	a, b := seq("first", 10), seq("second", 5)
	deliver(t, c, a)
	deliver(t, c, a) // the dispatcher retries a batch whose outcome it did not learn
	deliver(t, c, b)
	got := s.Read(t)
	// A sink may keep both copies or only one: every event is there, whole,
	// at most twice, and first seen in delivery order.
	want := append(append([]event.Event(nil), a...), b...)
	byID := make(map[string]event.Event, len(want))
	for _, ev := range want {
		byID[ev.ID] = ev
	}
	seen := make(map[string]int)
	var order []string
	for i, ev := range got {
		w, ok := byID[ev.ID]
		if !ok {
			t.Fatalf("event %d read back was never delivered: %s", i, show(ev))
		}
		if f := Diff(ev, w); f != "" {
			t.Fatalf("event %d differs in %s:\n got  %s\n want %s", i, f, show(ev), show(Want(w)))
		}
		if seen[ev.ID] == 0 {
			order = append(order, ev.ID)
		}
		seen[ev.ID]++
	}
	if len(order) != len(want) {
		t.Fatalf("read back %d distinct events, want %d", len(order), len(want))
	}
	for i, ev := range want {
		if order[i] != ev.ID {
			t.Fatalf("distinct event %d is %s, want %s", i, order[i], ev.ID)
		}
		if seen[ev.ID] > 2 {
			t.Errorf("event %s read back %d times after two deliveries", ev.ID, seen[ev.ID])
		}
	}
	closeConn(t, c)
}

func testClose(t *testing.T, s Sink) {
	t.Run("Unused", func(t *testing.T) {
		closeConn(t, s.New(t))
		if got := s.Read(t); len(got) != 0 {
			t.Errorf("a sink closed unused holds %d events", len(got))
		}
	})
	t.Run("AfterDeliver", func(t *testing.T) {
		c := s.New(t)
		all := seq("close", 25)
		deliver(t, c, all)
		closeConn(t, c)
		compare(t, s.Read(t), all)
		// Deliver after Close must not panic; an error is the expected answer.
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("Deliver after Close panicked: %v", r)
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Deliver(ctx, seq("late", 1))
		}()
	})
}

func testConcurrent(t *testing.T, s Sink) {
	const writers, batches, size = 8, 20, 25
	c := s.New(t)
	sent := make([][]event.Event, writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		sent[w] = seq(fmt.Sprintf("w%d", w), batches*size)
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for b := range batches {
				if err := c.Deliver(ctx, sent[w][b*size:(b+1)*size]); err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Deliver: %v", err)
	}
	got := s.Read(t)
	if len(got) != writers*batches*size {
		t.Fatalf("read back %d events, want %d", len(got), writers*batches*size)
	}
	// Each writer's events arrive whole and in that writer's order.
	byWriter := make(map[string][]event.Event)
	for _, ev := range got {
		var w, i int
		if _, err := fmt.Sscanf(ev.ID, "w%d-%d", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("unexpected event read back: %s", show(ev))
		}
		key := fmt.Sprint(w)
		byWriter[key] = append(byWriter[key], ev)
	}
	for w := range writers {
		compare(t, byWriter[fmt.Sprint(w)], sent[w])
	}
	closeConn(t, c)
}

// hostile is text that breaks naive line, record or field framing.
const hostile = "a\x00b\x01c\x07d\x08e\tf\ng\rh\x0bi\x0cj\x1bk\x1fl\x7fm" +
	"\u0085n\u2028o\u2029p\ufeffq" + // NEL, line and paragraph separators, BOM
	`"quoted" \backslash\ {"json":[1]} <script>&amp;</script> ` +
	"çğıöşü ÇĞİÖŞÜ Ελληνικά кириллица 日本語 한국어 العربية עברית " +
	"e\u0301 \U0001F510\U0001F469\u200D\U0001F4BB 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"

func testHostileText(t *testing.T, s Sink) {
	before, after := seq("before", 1)[0], seq("after", 1)[0]
	odd := event.Event{
		ID:            "hostile-" + event.NewID(),
		Source:        event.SourcePortal,
		Principal:     event.Str("p " + hostile),
		Email:         event.Str("e " + hostile),
		DisplayName:   event.Str("d " + hostile),
		EventDate:     time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC),
		EventType:     event.LoginFailure,
		RemoteAddress: "r " + hostile,
		Message:       event.Str("m " + hostile),
		ErrorType:     event.Str("t " + hostile),
		PortalID:      event.Str("o " + hostile),
		AccountID:     event.Str("a " + hostile),
		Reason:        event.Reason("R " + hostile),
		FailureCount:  1,
		UserAgent:     "u " + hostile,
		Host:          "h " + hostile,
		Path:          "/p\n" + hostile,
		TraceID:       "x " + hostile,
	}
	// Invalid UTF-8 may be replaced, but must not break the framing either.
	invalid := seq("invalid", 1)[0]
	invalid.Message = event.Str("bad \xff\xfe\xc3 bytes\n")
	invalid.UserAgent = "\xed\xa0\x80 surrogate"

	c := s.New(t)
	deliver(t, c, []event.Event{before, odd, invalid, after})
	got := s.Read(t)
	if len(got) != 4 {
		t.Fatalf("read back %d events from a batch of 4: the framing broke", len(got))
	}
	compare(t, []event.Event{got[0], got[1]}, []event.Event{before, odd})
	compare(t, got[3:], []event.Event{after})
	if got[2].ID != invalid.ID || got[2].Message == nil || got[2].EventType != invalid.EventType {
		t.Errorf("event with invalid UTF-8 came back as %s", show(got[2]))
	}
	closeConn(t, c)
}

// Quiet waits until count stops changing for 450 ms, or 30 s pass. It is for
// sinks without an acknowledgement (a socket): their test receiver parses what
// Deliver wrote after Deliver has returned, so Read waits for it to settle.
func Quiet(count func() int) {
	deadline := time.Now().Add(30 * time.Second)
	last, still := -1, 0
	for still < 3 && time.Now().Before(deadline) {
		n := count()
		if n == last {
			still++
		} else {
			still = 0
		}
		last = n
		time.Sleep(150 * time.Millisecond)
	}
}
