package testnet

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestReceiveQueue checks WaitRead's probe: bytes a client sent count as
// unread until the server's end reads them, accepted or not.
func TestReceiveQueue(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := netip.MustParseAddrPort(ln.Addr().String())
	remote := netip.MustParseAddrPort(c.LocalAddr().String())
	if _, err := io.WriteString(c, "0123456789"); err != nil {
		t.Fatal(err)
	}
	queued := func(want uint32) {
		t.Helper()
		var q uint32
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if q, err = ReceiveQueue(local, remote); err != nil {
				t.Fatal(err)
			}
			if q == want {
				return
			}
		}
		t.Fatalf("receive queue %d bytes, want %d", q, want)
	}
	queued(10) // in the listen backlog
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	queued(10) // accepted, not read
	if _, err := io.ReadFull(s, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	queued(0)
}
