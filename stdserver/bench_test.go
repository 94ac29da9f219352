package stdserver

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
)

// BenchmarkServe measures round trips over loopback on one connection,
// pipeline requests at a time; with -benchmem, allocs/op counts the server's
// allocations too (the client's loop makes none).
func BenchmarkServe(b *testing.B) {
	for _, pipeline := range []int{1, 16} {
		b.Run("pipeline="+strconv.Itoa(pipeline), func(b *testing.B) {
			s := start(b, config())
			c := dial(b, s.Addr())
			req := []byte(strings.Repeat(get, pipeline))
			resp := make([]byte, len(proto.OK)*pipeline)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*pipeline)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkServeParallel keeps several connections busy at once.
func BenchmarkServeParallel(b *testing.B) {
	s := start(b, config())
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := dial(b, s.Addr())
		req, resp := []byte(get), make([]byte, len(proto.OK))
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(c, resp); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// A warmed-up connection answers requests without allocating.
func TestNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count needs a quiet process")
	}
	s := start(t, config())
	c := dial(t, s.Addr())
	c.SetDeadline(time.Now().Add(30 * time.Second))
	for _, pipeline := range []int{1, 16} {
		req := []byte(strings.Repeat(get, pipeline))
		resp := make([]byte, len(proto.OK)*pipeline)
		roundTrip := func() {
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, resp); err != nil {
				t.Fatal(err)
			}
		}
		for range 100 {
			roundTrip()
		}
		if n := testing.AllocsPerRun(500, roundTrip); n != 0 {
			t.Errorf("pipeline %d: %v allocations per round trip, want 0", pipeline, n)
		}
	}
}
