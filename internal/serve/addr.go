package serve

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// SockAddr reads, with getsockname(2), the address socket fd is bound to:
// as HOST:PORT (the form Server.Addr reports) and its port alone. Only IPv4
// and IPv6 sockets have one.
func SockAddr(fd int) (addr string, port int, err error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", 0, os.NewSyscallError("getsockname", err)
	}
	var ip net.IP
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ip, port = net.IP(sa.Addr[:]), sa.Port
	case *unix.SockaddrInet6:
		ip, port = net.IP(sa.Addr[:]), sa.Port
	default:
		return "", 0, fmt.Errorf("socket bound to a %T, not an IP address", sa)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(port)), port, nil
}
