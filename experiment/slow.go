package experiment

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/readinesslab/readiness/internal/child"
	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/sockdiag"
)

// SlowTarget is one server of the slow-handler experiment.
type SlowTarget struct {
	Name string   // as shown: "epoll block"
	Args []string // serve arguments: the model and its flags (-delay is added)
	// OneAfterOther and Together explain the two outcomes for this server;
	// the measurement picks which one is printed.
	OneAfterOther, Together string
}

// SlowRow is one server's result: when each of the two responses arrived,
// in seconds after both requests were sent.
type SlowRow struct {
	Server string  `json:"server"`
	First  float64 `json:"first_s"`
	Second float64 `json:"second_s"`
	Why    string  `json:"why"`
	// Queues is where the requests were half-way through the first
	// response's delay; nil, with QueuesNote saying why, if the kernel
	// could not be asked.
	Queues     *SlowQueues `json:"queues"`
	QueuesNote string      `json:"queues_note,omitempty"`
}

// SlowQueues is the kernel's view of the experiment's sockets at one
// moment, read through sock_diag as ss would show it.
type SlowQueues struct {
	At float64 `json:"at_s"` // seconds after the send
	// Backlog is the listener's Recv-Q: connections the kernel completed
	// that the server has not accepted.
	Backlog uint32 `json:"listener_recv_q"`
	// Unread is the Recv-Q of the server's end of each connection, in the
	// order they were opened: request bytes the server has not read.
	Unread [2]uint32 `json:"unread_bytes"`
}

// SlowRequest closes the connection after its response, so the serial
// server moves on to the next connection.
const SlowRequest = "GET /slow HTTP/1.1\r\nHost: slow\r\nConnection: close\r\n\r\n"

// Slow starts each target with -delay delay, opens two connections, sends
// one request on each at the same moment and times both responses.
func Slow(exe string, delay time.Duration, targets []SlowTarget) ([]SlowRow, error) {
	var rows []SlowRow
	for _, t := range targets {
		first, second, q, err := slowOnce(exe, delay, t)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", t.Name, err)
		}
		row := SlowRow{
			Server: t.Name,
			First:  first.Seconds(),
			Second: second.Seconds(),
			Why:    Why(first, second, delay, t),
			Queues: q.SlowQueues,
		}
		if q.err != nil {
			row.QueuesNote = fmt.Sprintf("sock_diag: %v", q.err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// queueReading is a SlowQueues, or why there is none.
type queueReading struct {
	*SlowQueues
	err error
}

func slowOnce(exe string, delay time.Duration, t SlowTarget) (first, second time.Duration, q queueReading, err error) {
	s, err := child.Start(context.Background(), exe, append(append([]string(nil), t.Args...), "-delay", delay.String()), child.Options{})
	if err != nil {
		return 0, 0, q, err
	}
	defer func() {
		if stopErr := s.Stop(); err == nil {
			err = stopErr
		}
	}()
	// Both connections are open, and accepted by every server that accepts
	// them while idle, before either request goes out: the serial server
	// leaves the second in the kernel's accept queue.
	var conns [2]net.Conn
	for i := range conns {
		c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
		if err != nil {
			return 0, 0, q, err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2*delay + 10*time.Second))
		conns[i] = c
	}
	settleAccepts(s.Addr)
	var took [2]time.Duration
	var errs [2]error
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := io.WriteString(c, SlowRequest); err != nil {
				errs[i] = err
				return
			}
			got, err := io.ReadAll(c)
			took[i] = time.Since(start)
			// Close at once, as a client of a closing response does: the
			// server waits for this close before it ends its drain, and the
			// serial server accepts the next connection only after that.
			c.Close()
			if err == nil && !bytes.Equal(got, proto.OKClose) {
				err = fmt.Errorf("response %q, want %q", got, proto.OKClose)
			}
			errs[i] = err
		}()
	}
	// Half-way through the first response's delay, every request has
	// arrived and none is answered: where each one waits is the row's
	// explanation, seen from the kernel.
	time.Sleep(delay / 2)
	q.SlowQueues, q.err = readQueues(s.Addr, conns)
	if q.SlowQueues != nil {
		q.At = time.Since(start).Seconds()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, 0, q, err
		}
	}
	return min(took[0], took[1]), max(took[0], took[1]), q, nil
}

// settleAccepts waits, at most acceptSettle, until the server has taken
// both connections from the listener's accept queue. A loop woken by the
// first connection may accept before the second handshake completes; if
// the requests went out before it came back for the second, a loop that
// then sleeps in its handler would leave that connection unaccepted, and
// the reading half-way through would depend on the race instead of the
// server. A serial server leaves the second connection queued, and this
// returns after acceptSettle; so does a server sock_diag cannot see.
func settleAccepts(addr string) {
	srv, err := netip.ParseAddrPort(addr)
	if err != nil {
		return
	}
	for end := time.Now().Add(acceptSettle); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if n, err := backlog(srv); err != nil || n == 0 {
			return
		}
	}
}

// acceptSettle bounds settleAccepts: far longer than a loop on a busy
// machine takes to come back to its listener.
const acceptSettle = 250 * time.Millisecond

// backlog is the Recv-Q of the listener on srv: the connections the kernel
// has completed and the server has not accepted.
func backlog(srv netip.AddrPort) (uint32, error) {
	ln, err := sockdiag.Lookup(srv, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	return ln.RecvQ, err
}

// readQueues reads the listener's accept queue and the server's end of
// each connection.
func readQueues(addr string, conns [2]net.Conn) (*SlowQueues, error) {
	srv, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	n, err := backlog(srv)
	if err != nil {
		return nil, err
	}
	q := &SlowQueues{Backlog: n}
	for i, c := range conns {
		peer, err := netip.ParseAddrPort(c.LocalAddr().String())
		if err != nil {
			return nil, err
		}
		s, err := sockdiag.Lookup(srv, peer)
		if err != nil {
			return nil, err
		}
		if s.State == sockdiag.Listen {
			// The lookup fell through to the listener: the server's end of
			// this connection is gone.
			return nil, fmt.Errorf("no server socket for %v", peer)
		}
		q.Unread[i] = s.RecvQ
	}
	return q, nil
}

// Why reads the measurement: the second response a whole delay after the
// first means the requests were served one after the other; both within
// about one delay means the waits overlapped.
func Why(first, second, delay time.Duration, t SlowTarget) string {
	d := delay.Seconds()
	f, s := first.Seconds(), second.Seconds()
	switch {
	case f < 0.8*d:
		return fmt.Sprintf("the first response came after %.2f s, before the %.2f s delay: the delay was not applied", f, d)
	case s >= 1.8*d:
		return fmt.Sprintf("the second waited a whole delay after the first (%.1f delays in all): %s", s/d, t.OneAfterOther)
	case s < 1.5*d:
		return fmt.Sprintf("both answered after one delay (%.1f and %.1f delays): %s", f/d, s/d, t.Together)
	}
	return fmt.Sprintf("the second came %.1f delays after the start, between the two patterns: the waits partly overlapped (a noisy machine?)", s/d)
}
