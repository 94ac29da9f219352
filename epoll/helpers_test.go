package epoll

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
)

const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// testConfig is a one-loop server on a free loopback port.
func testConfig() serve.Config {
	cfg := serve.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Loops = 1
	return cfg
}

// start runs a server for the test and checks, when the test ends, that
// Shutdown returns and leaves no fd and no goroutine behind.
func start(t *testing.T, cfg serve.Config) *Server {
	t.Helper()
	fds, goroutines := countFDs(t), runtime.NumGoroutine()
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		settled(t, "fds", fds, func() int { return countFDs(t) })
		settled(t, "goroutines", goroutines, runtime.NumGoroutine)
	})
	return s
}

// settled waits (boundedly) for a count to come back to its baseline.
func settled(t *testing.T, what string, want int, count func() int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := count()
		if got <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %d after shutdown, %d before", what, got, want)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	return len(ents)
}

func dial(t *testing.T, s *Server) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// expect reads exactly len(want) bytes and compares them.
func expect(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if n, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read after %d of %d bytes: %v (got %q)", n, len(want), err, got[:n])
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// expectEOF checks that the server closes the connection with nothing more
// to say.
func expectEOF(t *testing.T, c net.Conn) {
	t.Helper()
	var b [1]byte
	n, err := c.Read(b[:])
	if n != 0 || (err != io.EOF && !isReset(err)) {
		t.Fatalf("want the connection closed, got %d bytes %q, err %v", n, b[:n], err)
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func repeat(b []byte, n int) []byte { return bytes.Repeat(b, n) }
