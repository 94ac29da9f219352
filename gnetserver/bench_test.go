package gnetserver

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
)

// BenchmarkServe measures requests over loopback against a one-loop server:
// conns connections, each keeping pipeline requests in flight. One op is one
// request; the client does not allocate, so -benchmem shows the server's
// allocations per request.
func BenchmarkServe(b *testing.B) {
	for _, conns := range []int{1, 16} {
		for _, pipeline := range []int{1, 16} {
			name := "conns=" + strconv.Itoa(conns) + "/pipeline=" + strconv.Itoa(pipeline)
			b.Run(name, func(b *testing.B) { benchServe(b, conns, pipeline) })
		}
	}
}

func benchServe(b *testing.B, conns, pipeline int) {
	s := start(b, config())
	clients := make([]net.Conn, conns)
	for i := range clients {
		clients[i] = dial(b, s.Addr())
	}
	req := []byte(strings.Repeat(get, pipeline))
	want := bytes.Repeat(proto.OK, pipeline)
	// Rounds are dealt out to the connections; each round is one pipeline.
	rounds := (b.N + pipeline - 1) / pipeline
	var next sync.Mutex
	left := rounds
	take := func() bool {
		next.Lock()
		defer next.Unlock()
		if left == 0 {
			return false
		}
		left--
		return true
	}
	errs := make(chan error, conns)
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			got := make([]byte, len(want))
			c.SetDeadline(time.Now().Add(time.Minute))
			for take() {
				if _, err := c.Write(req); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, got); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, want) {
					errs <- io.ErrUnexpectedEOF
					return
				}
			}
		}(c)
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(rounds*pipeline)/time.Since(began).Seconds(), "req/s")
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
