package conformance

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proc"
	"github.com/readinesslab/readiness/internal/testnet"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// Sizes of the fd-limit cases.
const (
	emfileHeld  = 5  // connections served before the descriptors run out
	emfileSpare = 50 // the lowered limit's headroom, filled with /dev/null

	lowNofile  = 160 // the open-file limit the server process starts under
	lowOffered = 200 // clients offered: more than the limit
	lowLeave   = 5   // served clients that leave before a newcomer tries
	// lowEnv tells the child process to be the server.
	lowEnv = "READINESS_CONFORMANCE_LOW_NOFILE"
	// lowListening starts the child's line that gives its address.
	lowListening = "low-nofile: listening on "
)

// testAcceptEMFILE uses up the process's descriptors with /dev/null files,
// so that the server's accept fails with EMFILE while a client waits in the
// backlog. The server must keep serving its connections and must not spin
// on the readable listener; once the files are closed, the waiting client
// gets an answer (served, or closed by a server that sheds it) and new ones
// are served.
func testAcceptEMFILE(t *testing.T, m Model) {
	if strings.HasPrefix(m.Name, "gnet") {
		t.Skip("gnet v2.10.0 stops its engine when accept fails with EMFILE " +
			"(gnetserver's TestEngineStopsOnEMFILE, docs/gnet-emfile.md); " +
			"its guard, a connection cap below the limit, is the default-cap case")
	}
	s := start(t, m, baseConfig(m))
	held := make([]*client, emfileHeld)
	for i := range held {
		held[i] = s.dial(t)
		held[i].send(get)
		held[i].expect(ok)
	}
	testnet.SetNofile(t, uint64(testnet.CountFDs(t)+emfileSpare))
	fill := testnet.FillFDs(t)
	fill.Release(1) // room for exactly the waiting client's socket
	waiting, err := net.DialTimeout("tcp", s.addr, ioTimeout)
	if err != nil {
		fill.Release(-1)
		t.Fatalf("dial with one descriptor free: %v", err)
	}
	defer waiting.Close()
	// The kernel completed the handshake; the request waits with the
	// connection in the backlog (or is read by a server that sheds it).
	waiting.Write([]byte(get))
	t.Logf("%d descriptors filled; the server's accept now fails with EMFILE", fill.Count())

	assertIdle(t, "accept failing with EMFILE", "the process", testnet.CPUTime)
	for i, c := range held {
		if err := netcheck.RoundTrip(c.c, get, ok, ioTimeout); err != nil {
			t.Errorf("held client %d, while accept fails: %v", i, err)
		}
	}
	fill.Release(-1)
	// Either outcome is right for a connection that reached the backlog
	// while accept failed: its request answered, or the connection closed
	// (with or without 503) by a server that makes room by shedding it.
	got, end := netcheck.ReadAtLeast(waiting, len(ok), ioTimeout)
	if string(got) != ok && !(end.Closed() && (len(got) == 0 || string(got) == serviceUnavailable)) {
		t.Errorf("the client that waited through EMFILE: got %q then %s, want the answer or a close", clip(got), end)
	}
	testnet.AwaitServed(t, s.addr, lateBound)
}

// testLowNofile starts the server in its own process under a low open-file
// limit, with the default connection cap (the limit minus 64), and offers
// it more clients than the limit could hold. The server serves up to its
// cap and answers the others 503 with a close, keeps serving the ones it
// holds, never runs out of descriptors, uses next to no CPU while it waits,
// and serves newcomers once clients leave. The server runs apart (this test
// binary again, running only this case) so that the limit, the descriptor
// count and the CPU time are its own.
func testLowNofile(t *testing.T, m Model) {
	if os.Getenv(lowEnv) != "" {
		lowServer(t, m)
		return
	}
	srv := startSelf(t, lowEnv+"=1", lowListening)
	addr, err := srv.await(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	turned := 0
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range lowOffered {
		c, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatalf("client %d: dial: %v%s", i, err, srv.output())
		}
		served, err := netcheck.Admitted(c, get, ok, serviceUnavailable, ioTimeout)
		switch {
		case err != nil:
			c.Close()
			t.Fatalf("client %d: %v%s", i, err, srv.output())
		case served:
			held = append(held, c)
		default:
			c.Close()
			turned++
		}
	}
	fds, err := proc.FDs(srv.pid())
	if err != nil {
		t.Fatalf("count the server's fds: %v", err)
	}
	t.Logf("open-file limit %d: %d clients served, %d turned away with 503; the server holds %d descriptors", lowNofile, len(held), turned, fds)
	// The cap is the limit minus 64; gnet lowers it by a few descriptors
	// per event loop (one loop here) that its engine holds.
	if maxCap := lowNofile - 64; len(held) > maxCap || len(held) < maxCap-8 {
		t.Errorf("%d clients served at once under an open-file limit of %d; want the default cap, about %d", len(held), lowNofile, maxCap)
	}
	if fds >= lowNofile {
		t.Errorf("the server holds %d descriptors, its limit is %d", fds, lowNofile)
	}
	for i, c := range held {
		if err := netcheck.RoundTrip(c, get, ok, ioTimeout); err != nil {
			t.Errorf("served client %d, at the cap: %v", i, err)
		}
	}
	assertIdle(t, "at the cap", "the server process", srv.cpuTime(t))

	for _, c := range held[:lowLeave] {
		c.Close()
	}
	held = held[lowLeave:]
	testnet.AwaitServed(t, addr, lateBound)
	srv.stop(t)
}

// lowServer is the child process's side: lower the limit, start the model
// with the default cap, say where it listens, and serve until stdin closes.
func lowServer(t *testing.T, m Model) {
	testnet.SetNofile(t, lowNofile)
	cfg := baseConfig(m)
	cfg.Loops = 1
	cfg.MaxConns = 0 // the default: the open-file limit minus 64
	s := start(t, m, cfg)
	fmt.Printf("%s%s\n", lowListening, s.addr)
	readStdin()
}

// maxIdleCPU is the share of one CPU an idle server may use while it waits.
// A loop that spins on a readable listener uses a whole CPU; this bound has a
// huge margin and detects only spinning, it does not measure performance.
const maxIdleCPU = 0.30

// assertIdle measures cpu, the CPU time so far of the process named who,
// over half a second while nothing asks the server for work, and fails
// when it used more than maxIdleCPU of a CPU: the server spins.
func assertIdle(t *testing.T, what, who string, cpu func() time.Duration) {
	t.Helper()
	before, t0 := cpu(), time.Now()
	time.Sleep(500 * time.Millisecond)
	used, wall := cpu()-before, time.Since(t0)
	share := float64(used) / float64(wall)
	t.Logf("%s: %s used %.1f%% of one CPU over %v", what, who, 100*share, wall.Round(time.Millisecond))
	if share > maxIdleCPU {
		t.Errorf("%s: %s used %.0f%% of one CPU while idle (over %v): the server spins", what, who, 100*share, wall.Round(time.Millisecond))
	}
}
