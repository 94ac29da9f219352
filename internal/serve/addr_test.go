package serve

import (
	"errors"
	"net"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// bound returns a TCP socket of family bound to sa, closed when the test
// ends.
func bound(t *testing.T, family int, sa unix.Sockaddr) int {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sa); err != nil {
		t.Skipf("bind: %v", err)
	}
	return fd
}

func TestSockAddr(t *testing.T) {
	cases := []struct {
		name   string
		family int
		sa     unix.Sockaddr
		host   string
	}{
		{"ipv4", unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, "127.0.0.1"},
		{"ipv6", unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}, "::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fd := bound(t, tc.family, tc.sa)
			addr, port, err := SockAddr(fd)
			if err != nil {
				t.Fatal(err)
			}
			if port <= 0 || port > 65535 {
				t.Fatalf("port %d: the kernel should have picked a free port", port)
			}
			if want := net.JoinHostPort(tc.host, strconv.Itoa(port)); addr != want {
				t.Fatalf("SockAddr = %q, want %q", addr, want)
			}
			// The address is the one a client reaches the socket on.
			if err := unix.Listen(fd, 1); err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			c.Close()
		})
	}
}

func TestSockAddrErrors(t *testing.T) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if addr, _, err := SockAddr(fd); err == nil {
		t.Fatalf("a unix socket gave %q, want an error", addr)
	}

	_, _, err = SockAddr(-1)
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "getsockname" || !errors.Is(err, unix.EBADF) {
		t.Fatalf("fd -1: %v, want getsockname: EBADF", err)
	}
}
