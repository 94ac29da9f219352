package epoll

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
)

// bodyRequest is a request whose body is read and discarded: a flood of
// these keeps a connection readable while producing almost no output, so
// backpressure never stops the loop from reading it.
func bodyRequest(n int) string {
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", n, strings.Repeat("x", n))
}

// serverFD finds the loop's fd for the client end c.
func serverFD(t *testing.T, l *loop, c net.Conn) int32 {
	t.Helper()
	want := c.LocalAddr().String()
	found := int32(-1)
	l.each(func(fd int32, _ *conn) {
		if sa, err := unix.Getpeername(int(fd)); err == nil {
			if s, ok := sa.(*unix.SockaddrInet4); ok && fmt.Sprintf("%d.%d.%d.%d:%d", s.Addr[0], s.Addr[1], s.Addr[2], s.Addr[3], s.Port) == want {
				found = fd
			}
		}
	})
	if found < 0 {
		t.Fatalf("no connection of the loop is the peer of %s", want)
	}
	return found
}

// inQueue is how many bytes wait unread in fd's receive queue.
func inQueue(t *testing.T, fd int32) int {
	t.Helper()
	n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// In edge mode one event reads a connection at most maxEdgeReads times,
// not until EAGAIN; what is left is reported again by the next wait,
// though no new bytes arrived (no new edge), next to the other connections'
// events.
func TestEdgeReadBudget(t *testing.T) {
	cfg := testConfig()
	cfg.Trigger = serve.TriggerEdge
	l, addr := newTestLoop(t, cfg)
	cs := dialN(t, addr, 2)
	flood, other := cs[0], cs[1]
	l.accept()
	ffd, ofd := serverFD(t, l, flood), serverFD(t, l, other)
	// Room for the whole flood in the server's receive queue, so that what
	// the event leaves behind is known exactly.
	if err := unix.SetsockoptInt(int(ffd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); err != nil {
		t.Skipf("SO_RCVBUFFORCE (needs CAP_NET_ADMIN): %v", err)
	}
	req := bodyRequest(proto.MaxBody)
	const count = 4
	flood.SetDeadline(time.Now().Add(wait))
	go io.WriteString(flood, strings.Repeat(req, count))
	deadline := time.Now().Add(wait)
	for inQueue(t, ffd) < count*len(req) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d bytes reached the server's receive queue", inQueue(t, ffd), count*len(req))
		}
		time.Sleep(10 * time.Millisecond)
	}
	io.WriteString(other, get)
	for inQueue(t, ofd) < len(get) {
		time.Sleep(time.Millisecond)
	}

	// Take the edges the arrivals raised, then serve the flood's.
	n, err := l.p.wait(1000)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("wait reported %d events, want the two connections", n)
	}
	l.handle(ffd, l.conns.get(ffd).gen, readable)
	left := inQueue(t, ffd)
	// A read asks for the whole read buffer when no head is kept in it.
	if taken, most := count*len(req)-left, maxEdgeReads*len(l.rbuf); taken > most {
		t.Fatalf("one event read %d bytes of the flood (%d left), more than %d reads of %d bytes", taken, left, maxEdgeReads, len(l.rbuf))
	}
	if left == 0 {
		t.Fatal("the flood was read to the end in one event")
	}
	// No byte arrived since, yet the next wait reports the flood again.
	n, err = l.p.wait(0)
	if err != nil {
		t.Fatal(err)
	}
	reported := false
	for i := range n {
		if fd, _, ev := l.p.event(i); fd == ffd && ev&readable != 0 {
			reported = true
		}
	}
	if !reported {
		t.Fatalf("the flood's unread %d bytes are not reported again (%d events)", left, n)
	}
}

// With one loop in edge mode, a connection that keeps sending cannot starve
// another of the same loop.
func TestEdgeFloodDoesNotStarve(t *testing.T) {
	cfg := testConfig()
	cfg.Trigger = serve.TriggerEdge
	s := start(t, cfg)
	flood := dial(t, s)
	stop := make(chan struct{})
	defer close(stop)
	go io.Copy(io.Discard, flood)
	go func() {
		req := []byte(strings.Repeat(bodyRequest(proto.MaxBody), 4))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := flood.Write(req); err != nil {
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // the flood is under way
	if err := converse(s.Addr(), 20); err != nil {
		t.Fatalf("a second connection while another floods the loop: %v", err)
	}
}
