package journey

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/readinesslab/readiness/internal/proc"
	"github.com/readinesslab/readiness/trace"
)

// clientDeadline bounds every connection of the client's script.
const clientDeadline = 10 * time.Second

// ClientResult is what the client process reports on its stdout when its
// script is done.
type ClientResult struct {
	Ports []int  `json:"ports"` // the local ports of its connections
	Error string `json:"error,omitempty"`
}

// RunClient is the client process's side: it says "ready", waits for a
// line on in (the recorder has started), runs its script against addr and
// writes a ClientResult as one JSON line. With conns 0 the script is one
// connection, a request, pause, a second request on it, close; with conns
// N it is a burst of N connections in a row, each sending one request and
// closing, each made once every thread of the server (process server) is
// asleep again.
func RunClient(in io.Reader, out io.Writer, addr string, conns int, pause time.Duration, server int) error {
	fmt.Fprintln(out, "ready")
	if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the go-ahead: %w", err)
	}
	var res ClientResult
	var err error
	if conns > 0 {
		res.Ports, err = burst(addr, conns, server)
	} else {
		res.Ports, err = twoRequests(addr, pause)
	}
	if err != nil {
		res.Error = err.Error()
	}
	b, _ := json.Marshal(res)
	fmt.Fprintln(out, string(b))
	return err
}

// twoRequests: connect, a request, pause, a second request, close.
func twoRequests(addr string, pause time.Duration) ([]int, error) {
	c, err := net.DialTimeout("tcp", addr, clientDeadline)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ports := []int{c.LocalAddr().(*net.TCPAddr).Port}
	_ = c.SetDeadline(time.Now().Add(clientDeadline))
	if err := trace.Ask(c); err != nil {
		return ports, fmt.Errorf("request 1: %w", err)
	}
	time.Sleep(pause)
	if err := trace.Ask(c); err != nil {
		return ports, fmt.Errorf("request 2: %w", err)
	}
	return ports, c.Close()
}

// Between the connections of a burst the client waits at least burstGap
// and until every thread of the server sleeps, so that each connection
// finds every loop asleep in epoll_wait and shows whom its arrival wakes.
// On a busy machine a loop woken by the last connection may still wait
// for a CPU after a fixed gap; asleepWait bounds the wait for one that
// never sleeps.
const (
	burstGap   = time.Millisecond
	asleepWait = 200 * time.Millisecond
)

// burst makes conns connections in a row, each asking once and closing.
func burst(addr string, conns, server int) ([]int, error) {
	var ports []int
	for i := 0; i < conns; i++ {
		port, err := once(addr)
		if port != 0 {
			ports = append(ports, port)
		}
		if err != nil {
			return ports, fmt.Errorf("connection %d: %w", i+1, err)
		}
		time.Sleep(burstGap)
		untilAsleep(server, asleepWait)
	}
	return ports, nil
}

// untilAsleep waits, at most max, until every thread of process pid is
// asleep (state S in its stat). With pid 0 it does not wait.
func untilAsleep(pid int, max time.Duration) {
	if pid <= 0 {
		return
	}
	for end := time.Now().Add(max); time.Now().Before(end); time.Sleep(100 * time.Microsecond) {
		if asleep(pid) {
			return
		}
	}
}

func asleep(pid int) bool {
	tids, err := proc.Tasks(pid)
	if err != nil {
		return true // gone: nothing of it to wake
	}
	for _, tid := range tids {
		if st, err := proc.TaskStat(pid, tid); err == nil && st.State != 'S' {
			return false
		}
	}
	return true
}

func once(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, clientDeadline)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(clientDeadline))
	return c.LocalAddr().(*net.TCPAddr).Port, trace.Ask(c)
}
