package conformance

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

const (
	// hogMaxRequests bounds what the never-reading client writes: a server
	// that never pushes back fails the memory check long before this.
	hogMaxRequests = 1_500_000
	// hogChunk is how many pipelined requests go out per write.
	hogChunk = 2048
	// hogStall is how long a write must block for the client to count the
	// server as having stopped reading.
	hogStall = time.Second
	// maxHogGrowth is how much the heap may grow while the server holds a
	// connection that never reads: the per-connection unsent bound (about
	// 1 MiB), what a server that cannot stop reading buffers unread (gnet:
	// about 1 MiB more), each in buffers that grow by doubling, the loop's
	// own buffers, and the heap's fragmentation: a few MiB, seen up to 7
	// on gnet. A server without a bound grows by the hog's answers instead,
	// over 100 MiB of them.
	maxHogGrowth = 12 << 20
	// maxResidue is how much of that may remain once the client is gone.
	maxResidue = 1 << 20
	// prompt is how soon another client must get its answer meanwhile.
	prompt = 2 * time.Second
	// probeEvery is the pause between that client's requests.
	probeEvery = 50 * time.Millisecond
)

// testNeverReads pipelines requests on a connection that never reads its
// responses, until the server pushes back: it stops reading the connection,
// so the writes block, or it drops the connection. The server's memory must
// stay bounded, another client on the same event loop must be answered
// promptly throughout, and all is released when the client goes away.
func testNeverReads(t *testing.T, s *target) {
	other := s.dial(t)
	other.send(get)
	other.expect(ok)
	chunk := []byte(strings.Repeat(get, hogChunk))
	heap0 := heapInuse()

	hog := s.dial(t)
	var sent atomic.Int64
	stalled := make(chan error, 1)
	go func() {
		for sent.Load() < hogMaxRequests {
			hog.c.SetWriteDeadline(time.Now().Add(hogStall))
			n, err := hog.c.Write(chunk)
			sent.Add(int64(n / len(get)))
			if err != nil {
				stalled <- err
				return
			}
		}
		stalled <- nil
	}()

	// Meanwhile the other client keeps asking, and the live heap is
	// sampled: each answer must come promptly, and the heap must stay
	// within the bound all along, whatever the server does with the hog.
	probeStop := make(chan struct{})
	var probes sync.WaitGroup
	var (
		probeErr  error
		probed    int
		maxGrowth int64
	)
	probes.Go(func() {
		for {
			if probeErr = netcheck.RoundTrip(other.c, get, ok, prompt); probeErr != nil {
				return
			}
			probed++
			maxGrowth = max(maxGrowth, int64(heapInuse())-int64(heap0))
			select {
			case <-probeStop:
				return
			case <-time.After(probeEvery):
			}
		}
	})

	var err error
	select {
	case err = <-stalled:
	case <-time.After(2 * time.Minute):
		err = errors.New("the writes neither blocked nor finished")
	}
	close(probeStop)
	probes.Wait()
	dropped := false
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Logf("the server stopped reading after %d pipelined requests; %d probes answered meanwhile", sent.Load(), probed)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		// A server that cannot stop reading a connection (gnet offers no
		// way to) bounds it by dropping it instead.
		dropped = true
		t.Logf("the server dropped the connection after %d pipelined requests; %d probes answered meanwhile", sent.Load(), probed)
	case err == nil:
		t.Errorf("wrote %d requests without the server ever pushing back", sent.Load())
	default:
		t.Fatalf("never-reading client, after %d requests: %v", sent.Load(), err)
	}
	if probeErr != nil {
		t.Errorf("another client on the same loop, while the hog wrote: %v", probeErr)
	}
	for range 3 {
		if err := netcheck.RoundTrip(other.c, get, ok, prompt); err != nil {
			t.Errorf("another client on the same loop, after the hog's last write: %v", err)
		}
	}
	growth := max(maxGrowth, int64(heapInuse())-int64(heap0))
	t.Logf("largest heap growth with the hog connected: %.2f MiB (dropped: %v)", float64(growth)/(1<<20), dropped)
	if growth > maxHogGrowth {
		t.Errorf("heap grew by %.1f MiB with one never-reading client (bound %d MiB)", float64(growth)/(1<<20), maxHogGrowth>>20)
	}

	netcheck.Abort(hog.c)
	if err := heapBack(heap0, maxResidue, 5*time.Second); err != nil {
		t.Error(err)
	}
	if err := netcheck.RoundTrip(other.c, get, ok, prompt); err != nil {
		t.Errorf("after the hog left: %v", err)
	}
}

// heapBack waits up to d for the heap in use to come back within residue
// of base.
func heapBack(base uint64, residue int64, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		growth := int64(heapInuse()) - int64(base)
		if growth <= residue {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("heap still %.1f MiB above its baseline %v after the hog left", float64(growth)/(1<<20), d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// heapInuse is the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
