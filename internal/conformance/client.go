package conformance

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The contract's bytes, written out here rather than taken from the protocol
// package, so that the suite checks the protocol's constants too.
const (
	body        = "Hello, World!"
	ok          = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n" + body
	okClose     = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\n" + body
	okKeepAlive = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n" + body

	badRequest          = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	requestTimeout      = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	contentTooLarge     = "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	headerTooLarge      = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	notImplemented      = "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	serviceUnavailable  = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	versionNotSupported = "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)

// head is the answer to a HEAD request: the response without its body.
func head(resp string) string { return strings.TrimSuffix(resp, body) }

// get is a minimal keep-alive request.
const get = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"

// Generous bounds for reads and writes on loopback: reaching one means the
// server is stuck, not slow.
const (
	ioTimeout = 10 * time.Second
	// quiet is how long a connection must stay silent to count as open
	// with nothing more to say.
	quiet = 100 * time.Millisecond
)

// end is how a read of a connection ended.
type end int

const (
	endEOF     end = iota // the server closed (or half-closed) its side
	endReset              // the connection was reset
	endTimeout            // nothing more arrived before the deadline: still open
	endError              // anything else
)

func (e end) String() string {
	return [...]string{"EOF", "reset", "open (timed out)", "error"}[e]
}

// closed reports whether the server ended the connection.
func (e end) closed() bool { return e == endEOF || e == endReset }

func classify(err error) end {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return endEOF
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return endReset
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return endTimeout
	}
	return endError
}

// client is one raw TCP connection to the server under test.
type client struct {
	t testing.TB
	c *net.TCPConn
}

// dial connects to the server; the connection is closed when t ends.
func (s *target) dial(t testing.TB) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", s.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c.(*net.TCPConn)}
}

// send writes b whole.
func (c *client) send(b string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.c, b); err != nil {
		c.t.Fatalf("write %d bytes: %v", len(b), err)
	}
}

// expect reads exactly len(want) bytes and requires them to be want.
func (c *client) expect(want string) {
	c.t.Helper()
	got := make([]byte, len(want))
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	n, err := io.ReadFull(c.c, got)
	if err != nil {
		c.t.Fatalf("read %d bytes: got %d before %v (%s)\n%s", len(want), n, err, classify(err), mismatch(got[:n], want))
	}
	if string(got) != want {
		c.t.Fatalf("wrong bytes:\n%s", mismatch(got, want))
	}
}

// expectClosed requires the server to end the connection with nothing more
// to read, and to end it with EOF: the server half-closes after a closing
// response or an error and drains what the client still sends, so a reset
// here means it closed with bytes unread, which can destroy the answers a
// slower client had not read yet.
func (c *client) expectClosed() {
	c.t.Helper()
	got, e := c.readAll(ioTimeout)
	if len(got) > 0 || e != endEOF {
		c.t.Fatalf("want the connection closed (EOF) with nothing more; got %q then %s", clip(got), e)
	}
}

// expectOpen requires the connection to stay silent and open for a moment.
func (c *client) expectOpen() {
	c.t.Helper()
	got, e := c.readAll(quiet)
	if len(got) > 0 || e != endTimeout {
		c.t.Fatalf("want the connection open and silent; got %q then %s", clip(got), e)
	}
}

// readAll reads until the connection ends or nothing arrives for idle.
func (c *client) readAll(idle time.Duration) ([]byte, end) {
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		c.c.SetReadDeadline(time.Now().Add(idle))
		n, err := c.c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, classify(err)
		}
	}
}

// readAtLeast reads until it has n bytes or the connection ends, waiting at
// most timeout in all.
func (c *client) readAtLeast(n int, timeout time.Duration) ([]byte, end) {
	got := make([]byte, 0, n)
	buf := make([]byte, 64<<10)
	c.c.SetReadDeadline(time.Now().Add(timeout))
	for len(got) < n {
		m, err := c.c.Read(buf)
		got = append(got, buf[:m]...)
		if err != nil {
			return got, classify(err)
		}
	}
	return got, endTimeout
}

// mismatch describes how got differs from want around the first difference.
func mismatch(got []byte, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(i-40, 0)
	return fmt.Sprintf("first difference at byte %d of %d (want %d bytes)\n got: …%q…\nwant: …%q…",
		i, len(got), len(want), clip(got[from:min(len(got), i+80)]), clip([]byte(want[from:min(len(want), i+80)])))
}

// clip shortens b for a message.
func clip(b []byte) string {
	const most = 400
	if len(b) > most {
		return fmt.Sprintf("%s…(%d bytes more)", b[:most], len(b)-most)
	}
	return string(b)
}
