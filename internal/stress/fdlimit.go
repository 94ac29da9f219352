package stress

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/testnet"
)

// Sizes of the fd-limit cases.
const (
	capConns    = 20  // the server's connection cap
	capClients  = 60  // clients offered: more than the lowered limit could hold uncapped
	capHeadroom = 100 // descriptors the lowered limit leaves above what is open
	emfileHeld  = 5   // connections served before the descriptors run out
	emfileSpare = 50  // the lowered limit's headroom, filled with /dev/null
)

// testMaxConns lowers the open-file limit to a little above what the process
// holds, caps the server below it, and offers more clients than the limit
// could hold uncapped. The first capConns are served, the rest get 503 and
// a close; the served ones keep being served, the idle server does not
// spin, and once clients leave new ones are served again.
func testMaxConns(t *testing.T, m conformance.Model) {
	cfg := config(m)
	cfg.MaxConns = capConns
	srv := start(t, m, cfg)
	addr := srv.Addr()
	warmUp(t, addr)
	base := baseline(t)
	// Each client costs two descriptors in this process (its own and the
	// server's), so without the cap capClients would need more than the
	// headroom.
	setNofile(t, uint64(base.fds+capHeadroom), nofile(t).Max)

	var kept, turned []*net.TCPConn
	defer func() {
		for _, c := range append(kept, turned...) {
			c.Close()
		}
	}()
	for i := 0; i < capClients; i++ {
		c, err := dial(addr, nil)
		if err != nil {
			t.Fatalf("client %d: dial: %v", i, err)
		}
		a, err := classify(c)
		if err != nil {
			c.Close()
			t.Fatalf("client %d: %v", i, err)
		}
		if a == served {
			kept = append(kept, c)
		} else {
			turned = append(turned, c)
		}
	}
	t.Logf("%d clients: %d served, %d turned away with 503", capClients, len(kept), len(turned))
	if len(kept) != capConns || len(turned) != capClients-capConns {
		t.Errorf("served %d and turned away %d; want %d and %d", len(kept), len(turned), capConns, capClients-capConns)
	}
	for i, c := range kept {
		if err := roundTrip(c, request, proto.OK); err != nil {
			t.Errorf("served client %d, at the cap: %v", i, err)
		}
	}
	assertIdle(t, "at the cap")

	// Five clients leave; a newcomer is served once the server has seen
	// them go.
	for _, c := range kept[:5] {
		c.Close()
	}
	kept = kept[5:]
	if err := servedWithin(addr, 5*time.Second); err != nil {
		t.Errorf("after clients left: %v", err)
	}
	for _, c := range append(kept, turned...) {
		c.Close()
	}
	kept, turned = nil, nil
	settle(t, base, 5*time.Second)
}

// servedWithin dials addr until a connection is served rather than turned
// away, for up to d.
func servedWithin(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := dial(addr, nil)
		if err != nil {
			return err
		}
		a, err := classify(c)
		c.Close()
		switch {
		case err != nil:
			return err
		case a == served:
			return nil
		case time.Now().After(deadline):
			return errors.New("still turned away with 503 after " + d.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testAcceptEMFILE uses up the process's descriptors with /dev/null files,
// so that the server's accept fails with EMFILE while a client waits in the
// backlog. The server must keep serving its connections and must not spin
// on the readable listener; once the files are closed, the waiting client
// gets an answer (served, or closed by a server that sheds it) and new ones
// are served.
func testAcceptEMFILE(t *testing.T, m conformance.Model) {
	if m.Name == "gnet" {
		t.Skip("gnet v2.10.0 stops its engine when accept fails with EMFILE " +
			"(gnetserver's TestEngineStopsOnEMFILE, docs/gnet-emfile.md); " +
			"its guard, a connection cap below the limit, is the MaxConns case")
	}
	srv := start(t, m, config(m))
	addr := srv.Addr()
	held := make([]*net.TCPConn, emfileHeld)
	for i := range held {
		held[i] = mustDial(t, addr)
		if err := roundTrip(held[i], request, proto.OK); err != nil {
			t.Fatalf("held client %d: %v", i, err)
		}
	}
	base := baseline(t)
	setNofile(t, uint64(base.fds+emfileSpare), nofile(t).Max)

	fill := testnet.FillFDs(t)
	fill.Release(1) // room for exactly the waiting client's socket
	waiting, err := dial(addr, nil)
	if err != nil {
		fill.Release(-1)
		t.Fatalf("dial with one descriptor free: %v", err)
	}
	defer waiting.Close()
	// The kernel completed the handshake; the request waits with the
	// connection in the backlog (or is read by a server that sheds it).
	_, _ = waiting.Write([]byte(request))
	t.Logf("%d descriptors filled; the server's accept now fails with EMFILE", fill.Count())

	assertIdle(t, "accept failing with EMFILE")
	for i, c := range held {
		if err := roundTrip(c, request, proto.OK); err != nil {
			t.Errorf("held client %d, while accept fails: %v", i, err)
		}
	}

	fill.Release(-1)
	if err := answeredOrShed(waiting); err != nil {
		t.Errorf("the client that waited through EMFILE: %v", err)
	}
	if err := servedWithin(addr, 5*time.Second); err != nil {
		t.Errorf("a new client after descriptors were freed: %v", err)
	}
	for _, c := range held {
		c.Close()
	}
	settle(t, base, 5*time.Second)
}

// answeredOrShed accepts either outcome for a connection that reached the
// backlog while accept failed: its request answered, or the connection
// closed (with or without 503) by a server that makes room by shedding it.
func answeredOrShed(c *net.TCPConn) error {
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	buf := make([]byte, len(proto.OK))
	n, err := c.Read(buf)
	switch {
	case n == 0 && isClosed(err):
		return nil
	case n == 0:
		return err
	}
	got := buf[:n]
	for len(got) < len(proto.OK) && err == nil {
		n, err = c.Read(buf[len(got):])
		got = buf[:len(got)+n]
		if string(got) == string(proto.ServiceUnavailable) {
			return nil
		}
	}
	if string(got) == string(proto.OK) || string(got) == string(proto.ServiceUnavailable) {
		return nil
	}
	return errors.New("unexpected answer: " + string(got))
}
