package testnet

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

// BenchGet is the request the servers' benchmarks send.
const BenchGet = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// BenchServe runs the loopback benchmark matrix that every server package
// shares, so that benchstat can set the three side by side: sub-benchmarks
// conns=1,16 × pipeline=1,16, each against a fresh server whose address
// start returns (start registers the server's shutdown with b.Cleanup).
//
// One op is one request. conns connections each keep pipeline requests in
// flight, written in one batch and answered by one read of the responses,
// which are checked byte for byte. The clients run in the benchmark's
// process, so ns/op is the round trip of a loopback client and server
// sharing the machine, and proc-cpu-ns/op is the CPU time of the whole
// process (clients included) per request. The clients allocate nothing per
// request, so allocs/op is the server's.
func BenchServe(b *testing.B, start func(b *testing.B) string) {
	for _, conns := range []int{1, 16} {
		for _, pipeline := range []int{1, 16} {
			name := "conns=" + strconv.Itoa(conns) + "/pipeline=" + strconv.Itoa(pipeline)
			b.Run(name, func(b *testing.B) {
				benchLoad(b, start(b), conns, pipeline)
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
	batch := []byte(strings.Repeat(BenchGet, pipeline))
	want := bytes.Repeat(proto.OK, pipeline)
	var left atomic.Int64 // batches still to send, over all connections
	left.Store(int64((b.N + pipeline - 1) / pipeline))
	errs := make(chan error, conns)

	b.ReportAllocs()
	u0, s0 := ProcessTimes()
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
	u1, s1 := ProcessTimes()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64((u1-u0)+(s1-s0))/float64(b.N), "proc-cpu-ns/op")
}

// ProcessTimes is the process's user and system time so far, in ns.
func ProcessTimes() (user, sys int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return ru.Utime.Nano(), ru.Stime.Nano()
}
