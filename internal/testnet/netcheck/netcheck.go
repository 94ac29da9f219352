// Package netcheck holds the checks a client makes on what a server sends
// back: exact bytes, an end (EOF or reset), or silence. Each returns an
// error instead of failing a test, so that soak, which runs as a program
// for long runs and must not import testing, uses the same checks as the
// tests; testnet wraps them for tests.
//
// A wrong byte, or bytes where the connection should end or stay silent,
// wraps ErrMismatch: a failure whatever else happened, even while a run is
// ending and its connections are closed under the clients.
package netcheck

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrMismatch marks bytes that differ from what the contract promises.
var ErrMismatch = errors.New("wrong byte")

// End is how a read of a connection ended.
type End int

const (
	EOF     End = iota // the server closed (or half-closed) its side
	Reset              // the connection was reset
	Timeout            // nothing more arrived before the deadline: still open
	Other              // any other error
)

func (e End) String() string {
	return [...]string{"EOF", "reset", "open (timed out)", "error"}[e]
}

// Closed reports whether the server ended the connection.
func (e End) Closed() bool { return e == EOF || e == Reset }

// Classify says how a read that returned err ended.
func Classify(err error) End {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return EOF
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Reset
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Timeout
	}
	return Other
}

// Expect reads exactly len(want) bytes from c, comparing them as they
// come, within whatever deadline the caller set. A difference is reported
// at its first byte, wrapping ErrMismatch; a read that ends early says how
// many bytes came and how it ended.
func Expect[B ~string | ~[]byte](c net.Conn, want B) error {
	w := string(want)
	got := make([]byte, len(w))
	for n := 0; n < len(w); {
		k, err := c.Read(got[n:])
		if i := firstDiff(got[n:n+k], w[n:n+k]); i >= 0 {
			return fmt.Errorf("%w at byte %d of %d\n%s", ErrMismatch, n+i, len(w), Mismatch(got[:n+k], w))
		}
		n += k
		if err != nil && n < len(w) {
			return fmt.Errorf("read %d of %d bytes, then %w (%s)\n%s", n, len(w), err, Classify(err), Mismatch(got[:n], w))
		}
	}
	return nil
}

// firstDiff is the index of the first byte where got and want differ, -1
// when they do not.
func firstDiff(got []byte, want string) int {
	for i := range got {
		if got[i] != want[i] {
			return i
		}
	}
	return -1
}

// RoundTrip writes req on c and expects want back, all within d.
func RoundTrip[B ~string | ~[]byte](c net.Conn, req string, want B, d time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, req); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return Expect(c, want)
}

// expectEnd makes one read from c that waits at most d, for the checks
// that expect an end or silence: nothing may arrive, and the read must end
// as fits says; want names that ending for the error.
func expectEnd(c net.Conn, d time.Duration, want string, fits func(End) bool) error {
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	var buf [512]byte
	n, err := c.Read(buf[:])
	switch {
	case n > 0:
		return fmt.Errorf("%w: %d bytes where %s should be: %q", ErrMismatch, n, want, Clip(buf[:n]))
	case fits(Classify(err)):
		return nil
	}
	return fmt.Errorf("want %s within %v, got %w (%s)", want, d, err, Classify(err))
}

// ExpectEOF requires the server to end c within d with nothing more, by a
// clean end of file: it closed or half-closed in order, without a reset.
func ExpectEOF(c net.Conn, d time.Duration) error {
	return expectEnd(c, d, "end of file", func(e End) bool { return e == EOF })
}

// ExpectClosed requires the server to end c within d with nothing more: by
// end of file, or by a reset, which a close with input unread produces.
func ExpectClosed(c net.Conn, d time.Duration) error {
	return expectEnd(c, d, "the connection closed", End.Closed)
}

// ExpectSilence requires c to stay open, and nothing to arrive, for d.
func ExpectSilence(c net.Conn, d time.Duration) error {
	return expectEnd(c, d, "silence, the connection open,", func(e End) bool { return e == Timeout })
}

// ReadAll reads c until the connection ends or nothing arrives for idle.
func ReadAll(c net.Conn, idle time.Duration) ([]byte, End) {
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, Classify(err)
		}
	}
}

// ReadAtLeast reads c until it has n bytes or the connection ends, waiting
// at most d in all; with n bytes read it says Timeout (still open).
func ReadAtLeast(c net.Conn, n int, d time.Duration) ([]byte, End) {
	got := make([]byte, 0, n)
	buf := make([]byte, 64<<10)
	c.SetReadDeadline(time.Now().Add(d))
	for len(got) < n {
		k, err := c.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			return got, Classify(err)
		}
	}
	return got, Timeout
}

// Abort closes c with SO_LINGER 0: the kernel sends a reset instead of a
// FIN and discards whatever is queued either way.
func Abort(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// Mismatch describes how got differs from want around the first
// difference.
func Mismatch(got []byte, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(i-40, 0)
	return fmt.Sprintf("first difference at byte %d of %d (want %d bytes)\n got: …%q…\nwant: …%q…",
		i, len(got), len(want), Clip(got[from:min(len(got), i+80)]), Clip([]byte(want[from:min(len(want), i+80)])))
}

// Clip shortens b for a message.
func Clip(b []byte) string {
	const most = 400
	if len(b) > most {
		return fmt.Sprintf("%s…(%d bytes more)", b[:most], len(b)-most)
	}
	return string(b)
}

// Admitted sends req on c, a new connection to a server at or near its
// connection cap, and reports whether the server served it (answered
// served, the connection left open) or turned it away (answered turned,
// then closed), all within d. Anything else is an error.
func Admitted(c net.Conn, req, served, turned string, d time.Duration) (bool, error) {
	if err := c.SetDeadline(time.Now().Add(d)); err != nil {
		return false, err
	}
	// The write can fail when the server has already turned the connection
	// away and closed it: the answer is still there to read.
	_, werr := io.WriteString(c, req)
	var got []byte
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		switch {
		case string(got) == served:
			return true, nil
		case string(got) == turned:
			if err != nil && Classify(err).Closed() {
				return false, nil
			}
			if err := ExpectClosed(c, d); err != nil {
				return false, fmt.Errorf("after %q: %w", turned, err)
			}
			return false, nil
		case err != nil || !strings.HasPrefix(served, string(got)) && !strings.HasPrefix(turned, string(got)):
			return false, fmt.Errorf("got %q then %v (write: %v), want %q or %q", Clip(got), err, werr, served, turned)
		}
	}
}
