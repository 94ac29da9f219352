package gnetserver

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
)

// BenchmarkServe measures the server over loopback. One op is one
// request. conns connections each keep pipeline requests in flight, written
// in one batch and answered by one read of the responses, which are checked
// byte for byte. The sub-benchmark names are the same in epoll and
// stdserver, so benchstat can set the three side by side (see
// docs/performance.md).
//
// The clients run in the benchmark's process, so ns/op is the round trip of
// a loopback client and server sharing the machine, and proc-cpu-ns/op is
// the CPU time of the whole process (clients included) per request. The
// clients allocate nothing per request, so allocs/op is the server's.
//
// The server runs one event loop, as epoll's benchmark does.
func BenchmarkServe(b *testing.B) {
	for _, conns := range []int{1, 16} {
		for _, pipeline := range []int{1, 16} {
			name := "conns=" + strconv.Itoa(conns) + "/pipeline=" + strconv.Itoa(pipeline)
			b.Run(name, func(b *testing.B) {
				s := start(b, config())
				benchLoad(b, s.Addr(), conns, pipeline)
			})
		}
	}
}

// benchLoad drives b.N requests (rounded up to whole batches) through conns
// connections to addr.
func benchLoad(b *testing.B, addr string, conns, pipeline int) {
	clients := make([]net.Conn, conns)
	for i := range clients {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	batch := []byte(strings.Repeat(benchGet, pipeline))
	want := bytes.Repeat(proto.OK, pipeline)
	var left atomic.Int64 // batches still to send, over all connections
	left.Store(int64((b.N + pipeline - 1) / pipeline))
	errs := make(chan error, conns)

	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for _, c := range clients {
		go func() {
			got := make([]byte, len(want))
			c.SetDeadline(time.Now().Add(time.Minute))
			for left.Add(-1) >= 0 {
				if _, err := c.Write(batch); err != nil {
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
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "proc-cpu-ns/op")
}

// benchGet is the request the benchmarks send.
const benchGet = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// processCPU is the user and system time of the process so far, in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
