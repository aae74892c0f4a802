package pwned

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkOnlineVersusFile compares one check through the range API, whose
// answer is not cached (one HTTP round trip over loopback to a server that
// answers a padded range of 900 suffixes, as the real API's ranges hold),
// with one lookup in a file of 100,000 hashes, measured in the same run: it
// reports both times per check and their ratio. A real network round trip
// to the API costs milliseconds more than loopback.
func BenchmarkOnlineVersusFile(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	random := func() [20]byte {
		var s [20]byte
		for i := range s {
			s[i] = byte(r.Uint32())
		}
		return s
	}
	path, _ := buildFile(b, dataset(randomSums(100_000, 7), one), BuildOptions{})
	f := openFile(b, path)

	var page strings.Builder
	for range 900 {
		s := random()
		fmt.Fprintf(&page, "%s:%d\r\n", fmt.Sprintf("%X", s[:])[5:], r.IntN(50))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(page.String()))
	}))
	defer srv.Close()
	c, err := NewRangeClient(RangeOptions{BaseURL: srv.URL, CacheEntries: -1})
	if err != nil {
		b.Fatal(err)
	}
	probes := make([][20]byte, 1024)
	for i := range probes {
		probes[i] = random()
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := c.Check(ctx, probes[i%len(probes)]); err != nil {
			b.Fatal(err)
		}
	}
	online := time.Since(start)
	start = time.Now()
	for i := range b.N {
		f.Contains(probes[i%len(probes)])
	}
	file := time.Since(start)
	b.ReportMetric(float64(online.Nanoseconds())/float64(b.N), "ns-online/check")
	b.ReportMetric(float64(file.Nanoseconds())/float64(b.N), "ns-file/check")
	b.ReportMetric(float64(online)/float64(file), "online/file")
	b.ReportMetric(0, "ns/op")
}
