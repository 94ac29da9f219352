// Package testnet holds the socket helpers the servers' tests share: dial a
// loopback server, send to it, check what comes back (bytes, a close, or
// nothing), and count this process's fds; and (server.go) start a server
// for a test and watch it come and go. It is imported only by tests and by
// the test suites under internal/; every helper fails the test through t on
// the first surprise.
package testnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proc"
)

// Dial connects to addr, closing the connection when the test ends.
func Dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// Send writes s whole.
func Send(t testing.TB, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// Expect reads exactly len(want) bytes within d and compares them.
func Expect(t testing.TB, c net.Conn, want []byte, d time.Duration) {
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

// Step is one turn of a conversation with a server: bytes sent, then the
// exact bytes that must come back, nothing read when Want is nil.
type Step struct {
	Send string
	Want []byte
}

// Converse takes the steps in order on c, each reply within 5 s.
func Converse(t testing.TB, c net.Conn, steps ...Step) {
	t.Helper()
	for _, s := range steps {
		Send(t, c, s.Send)
		if s.Want != nil {
			Expect(t, c, s.Want, 5*time.Second)
		}
	}
}

// ExpectEOF checks that the server ends its side of the connection cleanly
// (a FIN, read as io.EOF) within d, sending nothing more.
func ExpectEOF(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	n, b, err := readOnce(c, d)
	if n > 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF, got %q, %v", b[:n], err)
	}
}

// ExpectClosed checks that the server closes the connection within d,
// sending nothing more: by a FIN or by a reset, which a close with unread
// input produces.
func ExpectClosed(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	n, b, err := readOnce(c, d)
	if n > 0 || (!errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("want the connection closed, got %q, %v", b[:n], err)
	}
}

// ExpectSilence checks that nothing arrives, and the connection stays open,
// for d.
func ExpectSilence(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	n, b, err := readOnce(c, d)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want nothing for %v, got %q, %v", d, b[:n], err)
	}
}

// readOnce is one read with a deadline d from now.
func readOnce(c net.Conn, d time.Duration) (int, []byte, error) {
	c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 512)
	n, err := c.Read(b)
	return n, b, err
}

// CountFDs is the number of fds this process has open.
func CountFDs(t testing.TB) int {
	t.Helper()
	n, err := proc.FDs(os.Getpid())
	if err != nil {
		t.Fatalf("count this process's fds: %v", err)
	}
	return n
}

// NoLeaks checks, when the test ends (after the Cleanups registered later,
// which shut servers down and close clients), that the fd and goroutine
// counts come back, within 5 s, to where they are now.
func NoLeaks(t testing.TB) {
	t.Helper()
	NoLeaksWithin(t, 5*time.Second)
}

// NoLeaksWithin is NoLeaks with settle as the time the counts have to come
// back.
func NoLeaksWithin(t testing.TB, settle time.Duration) {
	t.Helper()
	fds, gs := CountFDs(t), runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(settle)
		for {
			f, g := CountFDs(t), runtime.NumGoroutine()
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
