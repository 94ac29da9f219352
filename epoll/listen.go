package epoll

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/serve"
)

// endpoint is where to listen, ready for bind(2).
type endpoint struct {
	family int
	sa     unix.Sockaddr
	dual   bool // an IPv6 wildcard that should accept IPv4 too
}

// resolve turns HOST:PORT into an endpoint. An empty host listens on every
// address, IPv6 and IPv4 alike, as net.Listen does.
func resolve(addr string) (endpoint, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return endpoint{}, err
	}
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return endpoint{}, err
	}
	if host == "" {
		return endpoint{family: unix.AF_INET6, sa: &unix.SockaddrInet6{Port: ta.Port}, dual: true}, nil
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		return endpoint{family: unix.AF_INET, sa: sa}, nil
	}
	sa := &unix.SockaddrInet6{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To16())
	if ta.Zone != "" {
		ifi, err := net.InterfaceByName(ta.Zone)
		if err != nil {
			return endpoint{}, err
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return endpoint{family: unix.AF_INET6, sa: sa}, nil
}

// withPort returns a copy of e bound to port.
func (e endpoint) withPort(port int) endpoint {
	switch sa := e.sa.(type) {
	case *unix.SockaddrInet4:
		c := *sa
		c.Port = port
		e.sa = &c
	case *unix.SockaddrInet6:
		c := *sa
		c.Port = port
		e.sa = &c
	}
	return e
}

// listen opens a nonblocking, close-on-exec listening socket on e.
// reusePort lets several sockets (one per loop) share the port, the kernel
// spreading new connections over them.
func listen(e endpoint, reusePort bool) (int, error) {
	fd, err := unix.Socket(e.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil && e.dual {
		// No IPv6 on this machine: the wildcard falls back to IPv4.
		e = endpoint{family: unix.AF_INET, sa: &unix.SockaddrInet4{Port: e.sa.(*unix.SockaddrInet6).Port}}
		fd, err = unix.Socket(e.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	}
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (int, error) {
		unix.Close(fd)
		return -1, os.NewSyscallError(call, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt SO_REUSEADDR", err)
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("setsockopt SO_REUSEPORT", err)
		}
	}
	if e.dual && e.family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			return fail("setsockopt IPV6_V6ONLY", err)
		}
	}
	if err := unix.Bind(fd, e.sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, backlog()); err != nil {
		return fail("listen", err)
	}
	return fd, nil
}

// listenAll opens the listeners for the accept mode: n sockets sharing one
// port with SO_REUSEPORT, or a single one, and returns them with the address
// they are bound to. With port 0 the first socket picks the port and the
// others bind that same port.
func listenAll(addr string, n int, reusePort bool) (fds []int, bound string, err error) {
	e, err := resolve(addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen %s: %w", addr, err)
	}
	if !reusePort {
		n = 1
	}
	fds = make([]int, 0, n)
	for i := 0; i < n; i++ {
		fd, err := listen(e, reusePort)
		if err != nil {
			closeInts(fds)
			return nil, "", fmt.Errorf("listen %s: %w", addr, err)
		}
		fds = append(fds, fd)
		if i == 0 {
			var port int
			if bound, port, err = serve.SockAddr(fd); err != nil {
				closeInts(fds)
				return nil, "", fmt.Errorf("listen %s: %w", addr, err)
			}
			e = e.withPort(port)
		}
	}
	return fds, bound, nil
}

// backlog is the kernel's cap on a listen queue (net.core.somaxconn), so the
// queue is as long as the machine allows; 4096 when it cannot be read.
func backlog() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 4096
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 4096
	}
	return n
}
