package load

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkLoad drives the in-test server for a short window per
// iteration and reports the generator's throughput. Both sides share the
// machine, so the figure is for comparing builds of the generator with
// benchstat, not servers.
func BenchmarkLoad(b *testing.B) {
	for _, pipeline := range []int{1, 16} {
		b.Run(fmt.Sprintf("pipeline=%d", pipeline), func(b *testing.B) {
			addr := startServer(b, serveCorrect(nil))
			var requests int64
			var elapsed time.Duration
			for b.Loop() {
				r, err := Run(context.Background(), Config{Addr: addr, Conns: 16, Threads: 1, Pipeline: pipeline, Duration: 200 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				if r.Errors != 0 {
					b.Fatalf("%d errors", r.Errors)
				}
				requests += r.Requests
				elapsed += r.Elapsed
			}
			if requests > 0 {
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(requests), "ns/req")
				b.ReportMetric(float64(requests)/elapsed.Seconds(), "req/s")
			}
		})
	}
}
