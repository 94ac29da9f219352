package testnet

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/readinesslab/readiness/internal/sockdiag"
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
			s, err := sockdiag.Lookup(srv, peer)
			if err != nil {
				return err
			}
			if s.RecvQ == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("after %v the server has not read the %d bytes %v sent", d, s.RecvQ, peer)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}
