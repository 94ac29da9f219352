package gnetserver

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

// TestDrainEnds checks that a client closing during the drain ends it.
func TestDrainEnds(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	c := testnet.Dial(t, s.Addr())
	testnet.Send(t, c, "BAD\r\n\r\n")
	testnet.Expect(t, c, proto.BadRequest, 5*time.Second)
	testnet.ExpectEOF(t, c, 5*time.Second)
	c.Close()
	deadline := time.Now().Add(proto.DrainTimeout / 2)
	for s.h.open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("connection still open after the client closed during the drain")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLoops starts several loops on port 0: each has its own listener, all
// on the one port, and all serve.
func TestLoops(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.Loops = 4
	s := start(t, cfg)
	_, port, _ := net.SplitHostPort(s.Addr())
	listeners := 0
	for _, fd := range socketFDs(t, port) {
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v == 1 {
			listeners++
		}
	}
	if listeners != cfg.Loops {
		t.Fatalf("%d listeners on port %s, want %d", listeners, port, cfg.Loops)
	}
	for i := 0; i < 32; i++ {
		c := testnet.Dial(t, s.Addr())
		testnet.Send(t, c, get)
		testnet.Expect(t, c, proto.OK, 5*time.Second)
	}
}

// socketFDs lists this process's TCP sockets whose local port is port.
func socketFDs(t *testing.T, port string) []int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, p, err := serve.SockAddr(fd); err == nil && strconv.Itoa(p) == port {
			if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err == nil && typ == unix.SOCK_STREAM {
				fds = append(fds, fd)
			}
		}
	}
	return fds
}
