package epoll

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

// Beyond MaxConns a connection gets 503 and is closed at once; when a
// connection leaves, the next one is served again.
func TestMaxConns(t *testing.T) {
	cfg := testConfig()
	cfg.Loops, cfg.MaxConns = 2, 2
	s := start(t, cfg)
	a, b := dial(t, s), dial(t, s)
	for _, c := range []net.Conn{a, b} {
		testnet.Send(t, c, get)
		testnet.Expect(t, c, proto.OK, wait)
	}
	over := dial(t, s)
	testnet.Expect(t, over, proto.ServiceUnavailable, wait)
	testnet.ExpectClosed(t, over, wait)

	a.Close()
	testnet.AwaitServed(t, s.Addr(), 3*time.Second)
}

// Shutdown delivers a delayed response in flight, then closes everything.
func TestShutdownDeliversDelayed(t *testing.T) {
	for _, mode := range []string{serve.DelayTimer, serve.DelayBlock} {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig()
			cfg.Delay, cfg.DelayMode = 300*time.Millisecond, mode
			s := start(t, cfg)
			idle, busy := dial(t, s), dial(t, s)
			testnet.Send(t, busy, get)
			time.Sleep(50 * time.Millisecond)
			done := testnet.ShutdownAsync(s)
			testnet.Expect(t, busy, proto.OK, wait)
			testnet.ExpectClosed(t, busy, wait)
			testnet.ExpectClosed(t, idle, wait)
			if err := <-done; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			testnet.ExpectRefused(t, s.Addr())
		})
	}
}

// When the context ends first, Shutdown closes everything at once: here a
// client that never reads holds responses the server cannot deliver.
func TestShutdownAbort(t *testing.T) {
	s := start(t, testConfig())
	c := dial(t, s)
	c.SetReadBuffer(4096)
	c.SetWriteDeadline(time.Now().Add(time.Second))
	stalled := make(chan struct{})
	go func() {
		io.Copy(c, io.LimitReader(endless{}, offered))
		close(stalled)
	}()
	<-stalled
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's error", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("Shutdown took %v after its context ended", d)
	}
}

// A client that pipelines without ever reading is no longer read once the
// bound of unsent bytes is reached; the other connections of the same loop
// are still served, and everything is released when it leaves.
func TestClientNeverReads(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		cfg.Loops = 1
		s := start(t, cfg)
		hog := dial(t, s)
		hog.SetReadBuffer(4096)
		hog.SetWriteDeadline(time.Now().Add(time.Second))
		sent := make(chan int64, 1)
		go func() {
			n, _ := io.Copy(hog, io.LimitReader(endless{}, offered))
			sent <- n
		}()
		// The writer stalls once the server stops reading (and the kernel's
		// buffers are full): far fewer bytes than it offered get through
		// before its deadline.
		if n := <-sent; n >= offered {
			t.Fatalf("the server took all %d bytes from a client that never reads", n)
		}
		if err := converse(s.Addr(), 20); err != nil {
			t.Fatalf("another client while one never reads: %v", err)
		}
		hog.Close()
	})
}

// offered is what a client that never reads tries to send: ten million
// requests, far more than the server's bound plus the kernel's buffers.
const offered = 10_000_000 * int64(len(get))

// endless repeats a request forever.
type endless struct{}

func (endless) Read(b []byte) (int, error) {
	n := 0
	for n+len(get) <= len(b) {
		n += copy(b[n:], get)
	}
	if n == 0 {
		n = copy(b, get)
	}
	return n, nil
}

// When accept fails for want of fds, the loop pauses accepting instead of
// spinning, keeps serving the connections it has, and accepts again once
// fds are free.
func TestAcceptEMFILE(t *testing.T) {
	s := start(t, testConfig())
	served := dial(t, s)

	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Fill the fd table, keeping one fd back for the client's socket.
	var fillers []*os.File
	t.Cleanup(func() {
		for _, f := range fillers {
			f.Close()
		}
	})
	for len(fillers) < int(lim.Cur) {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("open: %v", err)
			}
			break
		}
		fillers = append(fillers, f)
	}
	fillers[len(fillers)-1].Close()
	fillers = fillers[:len(fillers)-1]

	// The client's socket takes the last fd; the server's accept4 fails.
	waiting, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { waiting.Close() })
	waiting.SetDeadline(time.Now().Add(10 * time.Second))
	testnet.Send(t, waiting, get)

	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &before)
	for i := 0; i < 10; i++ {
		testnet.Send(t, served, get)
		testnet.Expect(t, served, proto.OK, wait)
		time.Sleep(50 * time.Millisecond)
	}
	unix.Getrusage(unix.RUSAGE_SELF, &after)
	// A spinning loop would burn a whole CPU for the 500 ms above.
	if cpu := cpuTime(after) - cpuTime(before); cpu > 300*time.Millisecond {
		t.Errorf("%v of CPU in 500 ms while accept fails: the loop spins", cpu)
	}

	for _, f := range fillers {
		f.Close()
	}
	fillers = nil
	testnet.Expect(t, waiting, proto.OK, wait)
}

func cpuTime(r unix.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// IPv6 loopback, where the machine has it.
func TestIPv6(t *testing.T) {
	cfg := testConfig()
	cfg.Addr = "[::1]:0"
	s, err := Start(cfg)
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	if !strings.HasPrefix(s.Addr(), "[::1]:") {
		t.Fatalf("Addr %q", s.Addr())
	}
	if err := converse(s.Addr(), 3); err != nil {
		t.Fatal(err)
	}
}
