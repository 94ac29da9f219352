package conformance

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/serve"
)

// The servers run inside the test process, so the suite can look at their
// side of a connection too: the accepted socket is one of this process's
// file descriptors.

func socketTests() []test {
	return []test{
		{name: "tcp nodelay", run: testNoDelay},
		{name: "one write per batch", run: testOneWrite},
		{name: "one write per delayed batch, timer", configure: func(cfg *serve.Config) {
			cfg.Delay, cfg.DelayMode = 20*time.Millisecond, serve.DelayTimer
		}, run: testOneWrite},
		{name: "one write per delayed batch, block", configure: func(cfg *serve.Config) {
			cfg.Delay, cfg.DelayMode = 20*time.Millisecond, serve.DelayBlock
		}, run: testOneWrite},
	}
}

// testNoDelay: the server's side of every connection has TCP_NODELAY set.
// Several connections, so that each of the server's loops accepts some.
func testNoDelay(t *testing.T, s *target) {
	for i := range 6 {
		c := s.dial(t)
		c.send(get)
		c.expect(ok)
		fd := acceptedFD(t, s, c)
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		if err != nil {
			t.Fatalf("connection %d: getsockopt(TCP_NODELAY) on the server's fd %d: %v", i, fd, err)
		}
		if v == 0 {
			t.Fatalf("connection %d: TCP_NODELAY is off on the server's fd %d", i, fd)
		}
		if s.model.Serial {
			// The next connection is accepted once this one is gone.
			c.c.Close()
		}
	}
}

// acceptedFD finds the file descriptor of this process that is the server's
// end of c: its local address is c's remote one and its peer is c's local
// one.
func acceptedFD(t *testing.T, s *target, c *client) int {
	t.Helper()
	local, remote := c.c.LocalAddr().(*net.TCPAddr), c.c.RemoteAddr().(*net.TCPAddr)
	for _, fd := range socketsOn(t, remote) {
		if pa, err := unix.Getpeername(fd); err == nil && sameAddr(pa, local) {
			return fd
		}
	}
	t.Fatalf("%s: no fd of this process is the server's end of %v -> %v", s.model.Name, local, remote)
	return -1
}

// socketsOn lists the file descriptors of this process that are sockets
// bound to a: the server's listeners and the connections it accepted
// there, which no other test's server shares.
func socketsOn(t *testing.T, a *net.TCPAddr) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list fds: %v", err)
	}
	var fds []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if sa, err := unix.Getsockname(fd); err == nil && sameAddr(sa, a) {
			fds = append(fds, fd)
		}
	}
	return fds
}

// sameAddr reports whether the socket address sa is a.
func sameAddr(sa unix.Sockaddr, a *net.TCPAddr) bool {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return sa.Port == a.Port && net.IP(sa.Addr[:]).Equal(a.IP)
	case *unix.SockaddrInet6:
		return sa.Port == a.Port && net.IP(sa.Addr[:]).Equal(a.IP)
	}
	return false
}

// oneWriteBatches are pipelines sent in one write, small enough to reach
// every server in one read (std reads 4 KiB at a time), with the answers
// small enough for one loopback segment whatever the MTU: all the answers
// must come back in one write.
var oneWriteBatches = []struct{ name, send, want string }{
	{"one request", get, ok},
	{"16 requests", strings.Repeat(get, 16), strings.Repeat(ok, 16)},
	{"mixed", get + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + strings.Repeat(get, 8),
		ok + head(ok) + ok + okKeepAlive + strings.Repeat(ok, 8)},
}

// oneWriteEnds are batches whose last answer ends the connection.
var oneWriteEnds = []struct{ name, send, want string }{
	{"ending in a close", strings.Repeat(get, 8) + "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", strings.Repeat(ok, 8) + okClose},
	{"ending in an error", strings.Repeat(get, 8) + "GET / HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n", strings.Repeat(ok, 8) + badRequest},
}

// testOneWrite: the answers to the requests of one read leave in one write.
// The client cannot see the server's writes, but it can count the data
// segments it received (TCP_INFO): on loopback, with TCP_NODELAY, each
// write of a few hundred bytes leaves as its own segment (the kernel may
// merge writes, never split one this small), so one segment per batch is
// what one write looks like, and two can only be two writes.
func testOneWrite(t *testing.T, s *target) {
	c := s.dial(t)
	for _, b := range oneWriteBatches {
		for range 3 {
			before := dataSegsIn(t, c)
			c.send(b.send)
			c.expect(b.want)
			if n := dataSegsIn(t, c) - before; n != 1 {
				t.Fatalf("%s: the answers came in %d segments, want 1 (one write per batch)", b.name, n)
			}
		}
	}
	// A serial server takes the next connection only once this one is gone.
	c.c.Close()
	for _, b := range oneWriteEnds {
		c := s.dial(t)
		before := dataSegsIn(t, c)
		c.send(b.send)
		c.expect(b.want)
		c.expectClosed()
		if n := dataSegsIn(t, c) - before; n != 1 {
			t.Fatalf("%s: the answers came in %d segments, want 1 (one write per batch)", b.name, n)
		}
		c.c.Close()
	}
}

// dataSegsIn is how many segments carrying data c has received.
func dataSegsIn(t *testing.T, c *client) uint32 {
	t.Helper()
	raw, err := c.c.SyscallConn()
	if err != nil {
		t.Fatalf("raw conn: %v", err)
	}
	var info *unix.TCPInfo
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		t.Fatalf("raw conn: %v", err)
	}
	if gerr != nil {
		t.Fatalf("getsockopt(TCP_INFO): %v", os.NewSyscallError("getsockopt", gerr))
	}
	return info.Data_segs_in
}
