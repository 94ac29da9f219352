package epoll

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/serve"
)

// newTestLoop makes one loop with its own listener on a free loopback port,
// without running it: the test drives its methods itself, on its own
// goroutine. It returns the loop and the listener's address.
func newTestLoop(t *testing.T, cfg serve.Config) (*loop, string) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg = cfg.Resolve()
	fds, addr, err := listenAll(cfg.Addr, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{maxConns: int64(cfg.MaxConns), abort: make(chan struct{}), done: make(chan struct{})}
	srv.listenRefs.Store(1)
	l, err := newLoop(srv, cfg, fds[0])
	if err != nil {
		unix.Close(fds[0])
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.closeAll()
		l.stopAccepting()
		l.p.close()
	})
	return l, addr
}

// dialN opens n connections to addr; the kernel completes each handshake,
// so they wait in the listener's backlog until accepted.
func dialN(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	cs := make([]net.Conn, 0, n)
	for range n {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs = append(cs, c)
	}
	return cs
}

// One wake accepts at most maxAccepts connections and leaves the rest in
// the backlog for the next wait, so that with a listener shared by several
// loops the one that woke first does not take a whole burst.
func TestAcceptCapPerWake(t *testing.T) {
	l, addr := newTestLoop(t, testConfig())
	dialN(t, addr, maxAccepts+maxAccepts/2)
	l.accept()
	if l.count != maxAccepts {
		t.Fatalf("one wake accepted %d of %d pending connections, want %d", l.count, maxAccepts+maxAccepts/2, maxAccepts)
	}
	// The rest is still there, and the level-triggered listener says so.
	n, err := l.p.wait(1000)
	if err != nil {
		t.Fatal(err)
	}
	reported := false
	for i := range n {
		if key, _, _ := l.p.event(i); key == tagListener {
			reported = true
		}
	}
	if !reported {
		t.Fatal("the listener is not reported readable with connections left in its backlog")
	}
	l.accept()
	if l.count != maxAccepts+maxAccepts/2 {
		t.Fatalf("after a second wake %d connections accepted, want all %d", l.count, maxAccepts+maxAccepts/2)
	}
}

// Errors accept(2) says to retry (the connection died in the backlog, or a
// network error was passed up early) take the next connection at once;
// only a shortage of fds or memory pauses accepting.
func TestAcceptTransientErrors(t *testing.T) {
	transient := []unix.Errno{unix.ECONNABORTED, unix.ENETDOWN, unix.EPROTO, unix.ENOPROTOOPT,
		unix.EHOSTDOWN, unix.ENONET, unix.EHOSTUNREACH, unix.EOPNOTSUPP, unix.ENETUNREACH, unix.EPERM}
	for _, errno := range transient {
		t.Run(unix.ErrnoName(errno), func(t *testing.T) {
			l, addr := newTestLoop(t, testConfig())
			dialN(t, addr, 1)
			failed := false
			l.accept4 = func(lfd int) (int32, unix.Errno) {
				if !failed {
					failed = true
					return -1, errno
				}
				return acceptFD(lfd)
			}
			l.accept()
			if l.paused {
				t.Fatalf("%v paused accepting", errno)
			}
			if l.count != 1 {
				t.Fatalf("%d connections accepted after one %v, want the waiting one", l.count, errno)
			}
		})
	}
	for _, errno := range []unix.Errno{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM} {
		t.Run(unix.ErrnoName(errno), func(t *testing.T) {
			l, addr := newTestLoop(t, testConfig())
			dialN(t, addr, 1)
			l.accept4 = func(int) (int32, unix.Errno) { return -1, errno }
			l.accept()
			if !l.paused {
				t.Fatalf("%v did not pause accepting", errno)
			}
		})
	}
}

// A listener that fails with a transient error on every call does not hold
// the loop: the retries count against the same per-wake cap.
func TestAcceptTransientBounded(t *testing.T) {
	l, _ := newTestLoop(t, testConfig())
	calls := 0
	l.accept4 = func(int) (int32, unix.Errno) {
		calls++
		if calls > 10*maxAccepts {
			return -1, unix.EAGAIN // the unbounded loop would never stop otherwise
		}
		return -1, unix.ECONNABORTED
	}
	l.accept()
	if calls > maxAccepts {
		t.Fatalf("one wake called accept4 %d times on a failing listener, want at most %d", calls, maxAccepts)
	}
	if l.paused {
		t.Fatal("ECONNABORTED paused accepting")
	}
}
