package gnetserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// These tests record how gnet v2.10.0 reacts when accept fails with EMFILE
// (docs/gnet-emfile.md) and check gnetserver's guard against it. Each lowers
// the process's open-file limit and restores it when it ends; none runs in
// parallel with other tests.

// TestEngineStopsOnEMFILE: a bare gnet engine, in both of gnet's accept
// arrangements, whose accept fails with EMFILE because other files use up
// the limit. The engine stops altogether: gnet.Run returns, the connection
// it was serving is closed, and once the files are gone nothing listens any
// more. The test asserts what gnet does today, so it fails when gnet changes.
func TestEngineStopsOnEMFILE(t *testing.T) {
	for _, reusePort := range []bool{true, false} {
		name := "reuseport" // every loop accepts on its own listener, as gnetserver runs it
		if !reusePort {
			name = "main-reactor" // gnet's default: one goroutine accepts for all loops
		}
		t.Run(name, func(t *testing.T) {
			e := startRaw(t, reusePort)
			held := farClients(t, 1)[0]
			if err := held.connect(e.addr); err != nil {
				t.Fatal(err)
			}
			if err := held.roundTrip(); err != nil {
				t.Fatal(err)
			}

			testnet.SetNofile(t, uint64(testnet.CountFDs(t)+30))
			fill := testnet.FillFDs(t)
			fill.Release(1) // room for the waiting client's socket
			waiting, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
			switch {
			case errors.Is(err, syscall.ECONNRESET):
				// The engine stopped and closed its listener, resetting
				// the connection in its backlog, before the dial returned.
				t.Logf("the waiting client's dial: %v", err)
			case err != nil:
				fill.Release(-1)
				t.Fatalf("dial with one descriptor free: %v", err)
			default:
				defer waiting.Close()
			}

			select {
			case err = <-e.ran:
				t.Logf("gnet.Run returned %v after accept failed", err)
			case <-time.After(5 * time.Second):
				fill.Release(-1)
				t.Fatalf("the engine still runs 5s after accept failed with EMFILE")
			}
			fill.Release(-1)
			select {
			case <-e.down:
			default:
				t.Errorf("OnShutdown was not called")
			}
			for _, line := range e.log.lines() {
				t.Logf("gnet logged: %s", line)
			}
			if !e.log.contains("too many open files") {
				t.Errorf("gnet did not log the EMFILE")
			}
			if err := held.closed(); err != nil {
				t.Errorf("the connection served before: %v", err)
			}
			if err := neverAccepts(e.addr, time.Second); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestServerStopsUncapped: gnetserver whose cap lies above the open-file
// limit (the limit was lowered after it started) lets its own connections
// use up the descriptors. Its engine stops at the first EMFILE: every
// connection is dropped and none is accepted afterwards.
func TestServerStopsUncapped(t *testing.T) {
	s, err := Start(serve.Config{Addr: "127.0.0.1:0", Loops: 1, MaxConns: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx) // the engine is down already when the test passes
	})
	clients := farClients(t, 100)
	testnet.SetNofile(t, uint64(testnet.CountFDs(t)-len(clients)+40))

	served := 0
	for _, c := range clients {
		if err := c.connect(s.Addr()); err != nil {
			t.Logf("client %d: connect: %v", served, err)
			break
		}
		if err := c.roundTrip(); err != nil {
			t.Logf("client %d: %v", served, err)
			break
		}
		served++
	}
	t.Logf("%d clients served before the engine stopped", served)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("the engine still runs with %d connections and 40 descriptors to spare", served)
	}
	for i, c := range clients[:served] {
		if err := c.closed(); err != nil {
			t.Errorf("client %d, served before: %v", i, err)
		}
	}
	if err := neverAccepts(s.Addr(), time.Second); err != nil {
		t.Error(err)
	}
}

// TestCapKeepsServing: gnetserver started under a low open-file limit takes
// its connection cap from it, below the limit. Offered more clients than
// the limit could hold, it answers the extra ones 503, keeps serving the
// rest and accepts again when clients leave: accept never reaches EMFILE.
func TestCapKeepsServing(t *testing.T) {
	const offered, spare = 120, 20
	clients := farClients(t, offered+spare)
	limit := testnet.CountFDs(t) - len(clients) + 100
	testnet.SetNofile(t, uint64(limit))
	s := start(t, serve.Config{Addr: "127.0.0.1:0", Loops: 1})
	var kept []*farConn
	turned := 0
	for i, c := range clients[:offered] {
		if err := c.connect(s.Addr()); err != nil {
			t.Fatalf("client %d: connect: %v", i, err)
		}
		ok, err := c.admitted()
		switch {
		case err != nil:
			t.Fatalf("client %d: %v", i, err)
		case ok:
			kept = append(kept, c)
		default:
			turned++
		}
	}
	t.Logf("limit %d, cap %d: %d clients served, %d turned away with 503", limit, s.h.maxConns, len(kept), turned)
	if int64(len(kept)) != s.h.maxConns || turned != offered-len(kept) {
		t.Errorf("served %d and turned away %d of %d; want the cap, %d, served", len(kept), turned, offered, s.h.maxConns)
	}
	select {
	case <-s.done:
		t.Fatal("the engine stopped")
	default:
	}
	for i, c := range kept {
		if err := c.roundTrip(); err != nil {
			t.Errorf("served client %d, at the cap: %v", i, err)
		}
	}
	kept[0].close()
	// A newcomer is served once the server has seen the client go; each
	// try takes a fresh socket, as a closed one cannot connect again.
	for i, c := range clients[offered:] {
		if err := c.connect(s.Addr()); err != nil {
			t.Fatalf("after a client left: connect: %v", err)
		}
		ok, err := c.admitted()
		if err != nil {
			t.Fatalf("after a client left: %v", err)
		}
		if ok {
			break
		}
		if i == spare-1 {
			t.Fatalf("still turned away after %d tries once a client left", spare)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rawEngine is a bare gnet engine that answers every read with one 200, to
// watch gnet's own accept handling without gnetserver around it.
type rawEngine struct {
	gnet.BuiltinEventEngine
	addr   string
	eng    gnet.Engine
	booted chan struct{}
	down   chan struct{} // closed by OnShutdown
	ran    chan error    // gnet.Run's result
	log    *recorder
}

func (e *rawEngine) OnBoot(eng gnet.Engine) gnet.Action {
	defer close(e.booted)
	e.eng = eng
	fd, err := eng.Dup()
	if err != nil {
		return gnet.Shutdown
	}
	defer unix.Close(fd)
	if e.addr, _, err = serve.SockAddr(fd); err != nil {
		return gnet.Shutdown
	}
	return gnet.None
}

func (e *rawEngine) OnShutdown(gnet.Engine) { close(e.down) }

func (e *rawEngine) OnTraffic(c gnet.Conn) gnet.Action {
	_, _ = c.Next(-1)
	_, _ = c.Write(proto.OK)
	return gnet.None
}

// startRaw runs a bare engine with one event loop on a free port.
func startRaw(t *testing.T, reusePort bool) *rawEngine {
	t.Helper()
	e := &rawEngine{booted: make(chan struct{}), down: make(chan struct{}), ran: make(chan error, 1), log: &recorder{}}
	go func() {
		e.ran <- gnet.Run(e, "tcp://127.0.0.1:0",
			gnet.WithNumEventLoop(1),
			gnet.WithReusePort(reusePort),
			gnet.WithLogger(e.log))
	}()
	select {
	case <-e.booted:
	case err := <-e.ran:
		t.Fatalf("gnet.Run: %v", err)
	}
	if e.addr == "" {
		t.Fatal("no listener address")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = e.eng.Stop(ctx) // in case the engine still runs
	})
	return e
}

// recorder is a gnet logger that keeps the warnings and errors.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	r.log = append(r.log, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) Debugf(string, ...any)             {}
func (r *recorder) Infof(string, ...any)              {}
func (r *recorder) Warnf(format string, args ...any)  { r.add(format, args...) }
func (r *recorder) Errorf(format string, args ...any) { r.add(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.add(format, args...) }

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

func (r *recorder) contains(s string) bool {
	for _, l := range r.lines() {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// neverAccepts dials addr for d and requires every attempt to be refused.
func neverAccepts(addr string, d time.Duration) error {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return errors.New("a connection was accepted after the engine stopped")
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("dial after the engine stopped: %v", err)
		}
	}
	return nil
}

// farConn is a blocking client socket whose descriptor number lies far
// above the lowered open-file limit, as if the client ran in another
// process: the limit bounds the numbers of new descriptors, so these take
// none of the server's room. Every wait goes through poll with a bound.
type farConn struct{ fd int }

// farBase is the lowest descriptor number a farConn takes.
const farBase = 10000

// farClients creates n unconnected client sockets, before the limit is
// lowered (no descriptor above the limit can be made after).
func farClients(t *testing.T, n int) []*farConn {
	t.Helper()
	cs := make([]*farConn, 0, n)
	t.Cleanup(func() {
		for _, c := range cs {
			c.close()
		}
	})
	for range n {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(os.NewSyscallError("socket", err))
		}
		fd, err := unix.FcntlInt(uintptr(s), unix.F_DUPFD_CLOEXEC, farBase)
		unix.Close(s)
		if err != nil {
			t.Fatal(os.NewSyscallError("fcntl", err))
		}
		cs = append(cs, &farConn{fd: fd})
	}
	return cs
}

func (c *farConn) close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

func (c *farConn) connect(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	err = unix.Connect(c.fd, sa)
	// EINTR: a signal interrupted the wait, the handshake goes on; wait for
	// it and ask again, until EISCONN says it is done.
	for err == unix.EINTR || err == unix.EALREADY {
		if err = c.wait(unix.POLLOUT); err != nil {
			return err
		}
		if err = unix.Connect(c.fd, sa); err == unix.EISCONN {
			return nil
		}
	}
	return os.NewSyscallError("connect", err)
}

// wait polls for events for up to five seconds.
func (c *farConn) wait(events int16) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return os.ErrDeadlineExceeded
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(c.fd), Events: events}}, ms)
		if err == unix.EINTR {
			continue // a signal, not readiness: wait again
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		if n > 0 {
			return nil
		}
	}
}

func (c *farConn) write(b []byte) error {
	for len(b) > 0 {
		if err := c.wait(unix.POLLOUT); err != nil {
			return err
		}
		n, err := unix.Write(c.fd, b)
		if err == unix.EINTR {
			continue // interrupted before anything was written: write again
		}
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		b = b[n:]
	}
	return nil
}

// readFull reads until b is full, or returns what it has with io.EOF when
// the peer closes first.
func (c *farConn) readFull(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if err := c.wait(unix.POLLIN); err != nil {
			return n, err
		}
		k, err := unix.Read(c.fd, b[n:])
		if err == unix.EINTR {
			continue // interrupted before anything was read: read again
		}
		if err != nil {
			return n, os.NewSyscallError("read", err)
		}
		if k == 0 {
			return n, io.EOF
		}
		n += k
	}
	return n, nil
}

// roundTrip sends one request and requires the 200.
func (c *farConn) roundTrip() error {
	if err := c.write([]byte(get)); err != nil {
		return err
	}
	got := make([]byte, len(proto.OK))
	n, err := c.readFull(got)
	if err != nil {
		return fmt.Errorf("read %q: %w", got[:n], err)
	}
	if string(got) != string(proto.OK) {
		return fmt.Errorf("got %q", got)
	}
	return nil
}

// admitted sends one request on a new connection and reports whether it was
// served (200) or turned away (503, then closed).
func (c *farConn) admitted() (bool, error) {
	werr := c.write([]byte(get)) // may fail once a 503 has closed the connection
	got := make([]byte, len(proto.OK))
	n, err := c.readFull(got)
	got = got[:n]
	switch {
	case string(got) == string(proto.OK):
		return true, nil
	case string(got) == string(proto.ServiceUnavailable) && netcheck.Classify(err).Closed():
		return false, nil
	}
	return false, fmt.Errorf("got %q, %v (write: %v)", got, err, werr)
}

// closed requires the peer to be gone: end of file or a reset.
func (c *farConn) closed() error {
	var b [512]byte
	n, err := c.readFull(b[:1])
	if n == 0 && netcheck.Classify(err).Closed() {
		return nil
	}
	return fmt.Errorf("want the connection closed, got %q, %v", b[:n], err)
}
