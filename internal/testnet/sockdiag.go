package testnet

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A request is in flight once the server has read it. A test that must
// act while responses are in flight (a shutdown, a signal) asks the kernel
// whether the server's end of each connection has read everything, instead
// of sleeping and hoping.

// WaitRead waits up to d until the server listening on addr has read all
// that clients sent: the receive queue of the server's end of each
// connection is empty. A connection still in the listen backlog (the serial
// server is busy) counts as not read.
func WaitRead(addr string, clients []*net.TCPConn, d time.Duration) error {
	srv, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(d)
	for _, c := range clients {
		peer, err := netip.ParseAddrPort(c.LocalAddr().String())
		if err != nil {
			return err
		}
		for {
			q, err := ReceiveQueue(srv, peer)
			if err != nil {
				return err
			}
			if q == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("after %v the server has not read the %d bytes %v sent", d, q, peer)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// ReceiveQueue is how many bytes wait unread in the receive queue of the TCP
// socket local, connected to remote (both IPv4), as the kernel's sock_diag
// netlink interface reports it for that one socket.
func ReceiveQueue(local, remote netip.AddrPort) (uint32, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
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
		return 0, os.NewSyscallError("sendto", err)
	}

	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, os.NewSyscallError("recvfrom", err)
	}
	if n < hdrLen+4 {
		return 0, fmt.Errorf("sock_diag: a %d-byte reply", n)
	}
	switch ne.Uint16(buf[4:]) {
	case unix.NLMSG_ERROR:
		errno := syscall.Errno(-int32(ne.Uint32(buf[hdrLen:])))
		return 0, fmt.Errorf("sock_diag %v -> %v: %w", local, remote, errno)
	case unix.SOCK_DIAG_BY_FAMILY:
		// struct inet_diag_msg: family, state, timer, retrans, the socket
		// id (48 bytes), expires, then rqueue.
		if n < hdrLen+60 {
			return 0, fmt.Errorf("sock_diag: a %d-byte reply", n)
		}
		return ne.Uint32(buf[hdrLen+56:]), nil
	}
	return 0, fmt.Errorf("sock_diag: a reply of type %d", ne.Uint16(buf[4:]))
}
