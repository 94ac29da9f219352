package conformance

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/testnet"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
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

// Bounds for reads and writes on loopback: reaching ioTimeout means the
// server is stuck, not slow.
const (
	ioTimeout = testnet.IOTimeout
	// quiet is how long a connection must stay silent to count as open
	// with nothing more to say.
	quiet = 100 * time.Millisecond
)

// client is one raw TCP connection to the server under test, with the
// checks of testnet as methods.
type client struct {
	t testing.TB
	c *net.TCPConn
}

// dial connects to the server; the connection is closed when t ends.
func (s *target) dial(t testing.TB) *client {
	t.Helper()
	return &client{t: t, c: testnet.Dial(t, s.addr)}
}

// send writes b whole.
func (c *client) send(b string) {
	c.t.Helper()
	testnet.Send(c.t, c.c, b)
}

// expect reads exactly len(want) bytes and requires them to be want.
func (c *client) expect(want string) {
	c.t.Helper()
	testnet.Expect(c.t, c.c, want, ioTimeout)
}

// expectClosed requires the server to end the connection with nothing more
// to read, and to end it with EOF: the server half-closes after a closing
// response or an error and drains what the client still sends, so a reset
// here means it closed with bytes unread, which can destroy the answers a
// slower client had not read yet.
func (c *client) expectClosed() {
	c.t.Helper()
	testnet.ExpectEOF(c.t, c.c, ioTimeout)
}

// expectOpen requires the connection to stay silent and open for a moment.
func (c *client) expectOpen() {
	c.t.Helper()
	testnet.ExpectSilence(c.t, c.c, quiet)
}

// readAll reads until the connection ends or nothing arrives for idle.
func (c *client) readAll(idle time.Duration) ([]byte, end) {
	return netcheck.ReadAll(c.c, idle)
}

// readAtLeast reads until it has n bytes or the connection ends, waiting at
// most timeout in all.
func (c *client) readAtLeast(n int, timeout time.Duration) ([]byte, end) {
	return netcheck.ReadAtLeast(c.c, n, timeout)
}

// end is how a read of a connection ended, with its values, for the
// tests' own read loops.
type end = netcheck.End

const (
	endEOF     = netcheck.EOF
	endReset   = netcheck.Reset
	endTimeout = netcheck.Timeout
	endError   = netcheck.Other
)

// classify says how a read that returned an error ended; mismatch and clip
// describe bytes for a failure message.
var (
	classify = netcheck.Classify
	mismatch = netcheck.Mismatch
	clip     = netcheck.Clip
)
