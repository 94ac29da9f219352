// Package testnet holds the helpers the servers' tests share: dial a
// loopback server, send to it, check what comes back (bytes, a close, or
// nothing); start a server for a test and check its shutdown (server.go);
// count this process's fds and goroutines and change its open-file limit
// (process.go); ask the kernel what a server has read (sockdiag.go); and
// the benchmark matrix (bench.go). Every helper fails the test through t
// on the first surprise.
//
// The checks themselves are netcheck's, which return errors instead: soak,
// a program rather than a test, uses netcheck directly and never imports
// this package (nor, through it, testing).
package testnet

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// IOTimeout bounds each wait of a test on loopback: reaching it means the
// server is stuck, not slow.
const IOTimeout = 10 * time.Second

// Dial connects to addr, closing the connection when the test ends.
func Dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, IOTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// Send writes s whole, within IOTimeout.
func Send(t testing.TB, c net.Conn, s string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(IOTimeout))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write %d bytes: %v", len(s), err)
	}
}

// Expect reads exactly len(want) bytes within d and requires them to be
// want.
func Expect[B ~string | ~[]byte](t testing.TB, c net.Conn, want B, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	if err := netcheck.Expect(c, want); err != nil {
		t.Fatal(err)
	}
}

// Step is one turn of a conversation with a server: bytes sent, then the
// exact bytes that must come back, nothing read when Want is nil.
type Step struct {
	Send string
	Want []byte
}

// Converse takes the steps in order on c, each reply within IOTimeout.
func Converse(t testing.TB, c net.Conn, steps ...Step) {
	t.Helper()
	for _, s := range steps {
		Send(t, c, s.Send)
		if s.Want != nil {
			Expect(t, c, s.Want, IOTimeout)
		}
	}
}

// ExpectEOF checks that the server ends its side of the connection cleanly
// (a FIN, read as io.EOF) within d, sending nothing more.
func ExpectEOF(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	if err := netcheck.ExpectEOF(c, d); err != nil {
		t.Fatal(err)
	}
}

// ExpectClosed checks that the server closes the connection within d,
// sending nothing more: by a FIN or by a reset, which a close with unread
// input produces.
func ExpectClosed(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	if err := netcheck.ExpectClosed(c, d); err != nil {
		t.Fatal(err)
	}
}

// ExpectSilence checks that nothing arrives, and the connection stays open,
// for d.
func ExpectSilence(t testing.TB, c net.Conn, d time.Duration) {
	t.Helper()
	if err := netcheck.ExpectSilence(c, d); err != nil {
		t.Fatal(err)
	}
}
