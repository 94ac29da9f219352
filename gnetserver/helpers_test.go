package gnetserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
)

const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// config is a test server's settings: a free loopback port, one loop, and
// timeouts long enough not to interfere.
func config() serve.Config {
	return serve.Config{
		Addr:          "127.0.0.1:0",
		Loops:         1,
		IdleTimeout:   time.Minute,
		HeaderTimeout: 10 * time.Second,
	}
}

// start starts a server that Cleanup shuts down, checking that the shutdown
// was graceful.
func start(t testing.TB, cfg serve.Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func send(t testing.TB, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// expect reads exactly len(want) bytes within d and compares them.
func expect(t testing.TB, c net.Conn, want []byte, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	got := make([]byte, len(want))
	n, err := io.ReadFull(c, got)
	if err != nil {
		t.Fatalf("read %d of %d bytes: %v (got %q)", n, len(want), err, got[:n])
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// expectEOF checks that the server ends its side of the connection within d,
// sending nothing more.
func expectEOF(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	var b [512]byte
	n, err := c.Read(b[:])
	if n > 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF, got %q, %v", b[:n], err)
	}
}

// expectSilence checks that nothing arrives, and the connection stays open,
// for d.
func expectSilence(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	var b [512]byte
	n, err := c.Read(b[:])
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want nothing for %v, got %q, %v", d, b[:n], err)
	}
}

// noLeaks checks, when the test ends (after the Cleanups registered later,
// which shut servers down), that the fd and goroutine counts are back to
// where they were.
func noLeaks(t *testing.T) {
	t.Helper()
	fds, gs := countFDs(t), runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			f, g := countFDs(t), runtime.NumGoroutine()
			if f <= fds && g <= gs {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak: fds %d -> %d, goroutines %d -> %d\n%s", fds, f, gs, g, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func countFDs(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
