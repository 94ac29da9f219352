// Package sockdiag asks the kernel about one TCP socket through the
// sock_diag netlink interface, the one ss uses, without running ss.
package sockdiag

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// States of a TCP socket (the kernel's include/net/tcp_states.h).
const (
	Established = 1
	Listen      = 10
)

// Socket is what the kernel reports of one TCP socket.
type Socket struct {
	State uint8 // Established, Listen, ...
	// RecvQ is the receive queue: for a connection, the bytes received and
	// not yet read; for a listening socket, the connections the kernel has
	// completed and nobody has accepted yet. It is the Recv-Q column of
	// ss -tn and ss -ltn.
	RecvQ uint32
}

// Lookup asks the kernel for the IPv4 TCP socket local, connected to
// remote; remote 0.0.0.0:0 names the socket listening on local. The kernel
// looks the pair up as it would an arriving packet, so a pair with no
// connection of its own finds the listener on local: State tells which was
// found.
func Lookup(local, remote netip.AddrPort) (Socket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return Socket{}, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)

	// struct nlmsghdr, then struct inet_diag_req_v2 naming one socket by
	// its four-tuple, with no cookie to check.
	const hdrLen, reqLen = 16, 56
	req := make([]byte, hdrLen+reqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], hdrLen+reqLen)
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // sequence number
	r := req[hdrLen:]
	r[0], r[1] = unix.AF_INET, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], ^uint32(0)) // every state
	binary.BigEndian.PutUint16(r[8:], local.Port())
	binary.BigEndian.PutUint16(r[10:], remote.Port())
	src, dst := local.Addr().As4(), remote.Addr().As4()
	copy(r[12:], src[:])
	copy(r[28:], dst[:])
	ne.PutUint32(r[48:], ^uint32(0)) // INET_DIAG_NOCOOKIE
	ne.PutUint32(r[52:], ^uint32(0))
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return Socket{}, os.NewSyscallError("sendto", err)
	}

	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return Socket{}, os.NewSyscallError("recvfrom", err)
	}
	if n < hdrLen+4 {
		return Socket{}, fmt.Errorf("sock_diag: a %d-byte reply", n)
	}
	switch ne.Uint16(buf[4:]) {
	case unix.NLMSG_ERROR:
		errno := syscall.Errno(-int32(ne.Uint32(buf[hdrLen:])))
		return Socket{}, fmt.Errorf("sock_diag %v -> %v: %w", local, remote, errno)
	case unix.SOCK_DIAG_BY_FAMILY:
		// struct inet_diag_msg: family, state, timer, retrans, the socket
		// id (48 bytes), expires, then rqueue.
		if n < hdrLen+60 {
			return Socket{}, fmt.Errorf("sock_diag: a %d-byte reply", n)
		}
		return Socket{State: buf[hdrLen+1], RecvQ: ne.Uint32(buf[hdrLen+56:])}, nil
	}
	return Socket{}, fmt.Errorf("sock_diag: a reply of type %d", ne.Uint16(buf[4:]))
}
