package epoll

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

// An epoll registration belongs to the open socket, not to the fd number:
// while a copy of a closed connection's fd lives on (as in a child between
// fork and exec), the old socket stays in the set and keeps reporting
// events under the number it was registered with. When accept4 hands that
// number to a new connection, the old socket's events must not reach it:
// here the old client resets, and the new connection on the same number
// must go on being served.
func TestStaleEventsAfterFDReuse(t *testing.T) {
	triggers(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		old := dial(t, s)
		testnet.Send(t, old, get)
		testnet.Expect(t, old, proto.OK, wait)
		fd := peerFD(t, old.LocalAddr().(*net.TCPAddr))

		// Hold the old socket open, as a fork/exec child would.
		dup, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(dup) })
		// The new client's socket exists before fd is freed, so that the
		// server's accept4, not this socket, gets the number.
		nfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		nf := os.NewFile(uintptr(nfd), "new client")
		t.Cleanup(func() { nf.Close() })

		// The old client's FIN makes the server close its fd.
		old.CloseWrite()
		awaitClosed(t, fd)
		addr := old.RemoteAddr().(*net.TCPAddr)
		sa := &unix.SockaddrInet4{Port: addr.Port}
		copy(sa.Addr[:], addr.IP.To4())
		if err := unix.Connect(nfd, sa); err != nil {
			t.Fatal(err)
		}
		// Find the server's fd before this process opens any other.
		lsa, err := unix.Getsockname(nfd)
		if err != nil {
			t.Fatal(err)
		}
		local := lsa.(*unix.SockaddrInet4)
		got := awaitPeerFD(t, &net.TCPAddr{IP: net.IP(local.Addr[:]), Port: local.Port})
		if got != fd {
			t.Skipf("accept4 gave the new connection fd %d, not the freed %d: nothing to show", got, fd)
		}
		nc, err := net.FileConn(nf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(wait))
		testnet.Send(t, nc, get)
		testnet.Expect(t, nc, proto.OK, wait)

		// The old client resets: the old socket reports a hang-up, under
		// the number the new connection now has.
		old.SetLinger(0)
		old.Close()
		time.Sleep(200 * time.Millisecond)
		testnet.Send(t, nc, get)
		testnet.Expect(t, nc, proto.OK, wait)
	})
}

// peerFD finds the fd of this process whose peer is addr: the server's end
// of a test connection.
func peerFD(t *testing.T, addr *net.TCPAddr) int {
	t.Helper()
	if fd := findPeerFD(t, addr); fd >= 0 {
		return fd
	}
	t.Fatalf("no fd of this process has the peer %v", addr)
	return -1
}

// awaitPeerFD is peerFD for a connection the server may not have accepted
// yet.
func awaitPeerFD(t *testing.T, addr *net.TCPAddr) int {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if fd := findPeerFD(t, addr); fd >= 0 {
			return fd
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not accept %v", addr)
		}
		time.Sleep(time.Millisecond)
	}
}

// findPeerFD returns the fd whose peer is addr, or -1. It asks each number
// in turn rather than list /proc/self/fd, which would open an fd itself and
// could take the very number the test waits for the server to reuse.
func findPeerFD(t *testing.T, addr *net.TCPAddr) int {
	t.Helper()
	for fd := range 4096 {
		sa, err := unix.Getpeername(fd)
		if s, ok := sa.(*unix.SockaddrInet4); err == nil && ok && s.Port == addr.Port && net.IP(s.Addr[:]).Equal(addr.IP) {
			return fd
		}
	}
	return -1
}

// awaitClosed waits until fd is no longer open in this process.
func awaitClosed(t *testing.T, fd int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if errors.Is(err, unix.EBADF) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not close fd %d", fd)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
