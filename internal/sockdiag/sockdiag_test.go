package sockdiag

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestLookup reads both kinds of receive queue: a listener's, which counts
// the connections waiting to be accepted, and a connection's, which counts
// the bytes waiting to be read, whether or not it has been accepted yet.
func TestLookup(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := netip.MustParseAddrPort(ln.Addr().String())
	listening := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	var peers []netip.AddrPort
	for range 2 {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		peers = append(peers, netip.MustParseAddrPort(c.LocalAddr().String()))
		if _, err := io.WriteString(c, "0123456789"); err != nil {
			t.Fatal(err)
		}
	}
	queued := func(local, remote netip.AddrPort, want uint32) {
		t.Helper()
		var s Socket
		var err error
		state := uint8(Established)
		if remote == listening {
			state = Listen
		}
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if s, err = Lookup(local, remote); err != nil {
				t.Fatal(err)
			}
			if s.RecvQ == want && s.State == state {
				return
			}
		}
		t.Fatalf("%v -> %v: %+v, want state %d and a receive queue of %d", local, remote, s, state, want)
	}
	queued(srv, listening, 2) // two connections wait to be accepted
	queued(srv, peers[1], 10)
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	queued(srv, listening, 1)
	accepted := netip.MustParseAddrPort(s.RemoteAddr().String())
	queued(srv, accepted, 10) // accepted, not read
	if _, err := io.ReadFull(s, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	queued(srv, accepted, 0)
	queued(srv, peers[1], 10) // still in the backlog, still unread
	// No connection from port 1: the lookup lands on the listener.
	if s, err := Lookup(srv, netip.MustParseAddrPort("127.0.0.1:1")); err != nil || s.State != Listen {
		t.Errorf("a pair with no connection: %+v, %v; want the listener", s, err)
	}
	if _, err := Lookup(netip.MustParseAddrPort("127.0.0.1:1"), listening); err == nil {
		t.Error("nothing listens on port 1: want an error")
	}
}
