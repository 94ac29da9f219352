package stress

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/proc"
	"github.com/readinesslab/readiness/internal/proto"
)

const (
	// lowNofile is the open-file limit the server process starts under.
	lowNofile = 160
	// lowOffered is how many clients are offered: more than the limit.
	lowOffered = 200
	// lowLeave is how many served clients leave before a newcomer tries.
	lowLeave = 5

	// lowEnv tells the child process to be the server.
	lowEnv = "READINESS_STRESS_LOW_NOFILE"
	// lowListening starts the child's line that gives its address.
	lowListening = "stress-low-nofile: listening on "
)

// testLowNofile starts the server in its own process under a low open-file
// limit, with the default connection cap (the limit minus 64), and offers
// it more clients than the limit could hold. The server serves up to its
// cap and answers the others 503 with a close, keeps serving the ones it
// holds, never runs out of descriptors, uses next to no CPU while it waits,
// and serves newcomers once clients leave. The server runs apart (this test
// binary again, running only this case) so that the limit, the descriptor
// count and the CPU time are its own.
func testLowNofile(t *testing.T, m conformance.Model) {
	if os.Getenv(lowEnv) != "" {
		lowServer(t, m)
		return
	}
	srv := startLowServer(t)
	turned := 0
	var held []net.Conn
	for i := 0; i < lowOffered; i++ {
		c, err := dial(srv.addr, nil)
		if err != nil {
			t.Fatalf("client %d: dial: %v%s", i, err, srv.output())
		}
		a, err := classify(c)
		if err != nil {
			c.Close()
			t.Fatalf("client %d: %v%s", i, err, srv.output())
		}
		if a == served {
			held = append(held, c)
		} else {
			c.Close()
			turned++
		}
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	fds := srv.fds(t)
	kept := len(held)
	t.Logf("open-file limit %d: %d clients served, %d turned away with 503; the server holds %d descriptors", lowNofile, kept, turned, fds)
	// The cap is the limit minus 64; gnet lowers it by a few descriptors
	// per event loop (one loop here) that its engine holds.
	if maxCap := lowNofile - 64; kept > maxCap || kept < maxCap-8 {
		t.Errorf("%d clients served at once under an open-file limit of %d; want the default cap, about %d", kept, lowNofile, maxCap)
	}
	if fds >= lowNofile {
		t.Errorf("the server holds %d descriptors, its limit is %d", fds, lowNofile)
	}
	for i, c := range held {
		if err := roundTrip(c, request, proto.OK); err != nil {
			t.Errorf("served client %d, at the cap: %v", i, err)
		}
	}
	srv.assertIdle(t, "at the cap")

	for _, c := range held[:lowLeave] {
		c.Close()
	}
	held = held[lowLeave:]
	if err := servedWithin(srv.addr, 5*time.Second); err != nil {
		t.Errorf("after %d clients left: %v%s", lowLeave, err, srv.output())
	}
	for _, c := range held {
		c.Close()
	}
	held = nil
	srv.stop(t)
}

// lowServer is the child process's side: lower the limit, start the model
// with the default cap, say where it listens, and serve until stdin closes.
func lowServer(t *testing.T, m conformance.Model) {
	setNofile(t, lowNofile, nofile(t).Max)
	cfg := config(m)
	cfg.Loops = 1
	cfg.MaxConns = 0 // the default: the open-file limit minus 64
	s := start(t, m, cfg)
	fmt.Printf("%s%s\n", lowListening, s.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// lowProcess is the server's process, seen from the test.
type lowProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	out   bytes.Buffer // what the child printed, for failure messages
	done  chan struct{}
}

// startLowServer runs the child server and waits for its address.
func startLowServer(t *testing.T) *lowProcess {
	t.Helper()
	p := &lowProcess{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.v", "-test.count=1", "-test.timeout=2m")
	p.cmd.Env = append(os.Environ(), lowEnv+"=1")
	p.cmd.Stderr = &p.out
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start the server process: %v", err)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	addr := make(chan string, 1)
	var lines []string
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, lowListening); ok {
				addr <- a
			}
			lines = append(lines, line)
		}
		_ = p.cmd.Wait()
		p.out.WriteString(strings.Join(lines, "\n"))
	}()
	select {
	case p.addr = <-addr:
	case <-p.done:
		t.Fatalf("the server process ended before listening:%s", p.output())
	case <-time.After(30 * time.Second):
		t.Fatal("the server process is not listening after 30s")
	}
	return p
}

// output is what the child printed, once it has ended.
func (p *lowProcess) output() string {
	select {
	case <-p.done:
		return "\nthe server process printed:\n" + p.out.String()
	default:
		return ""
	}
}

// fds counts the child's open descriptors.
func (p *lowProcess) fds(t *testing.T) int {
	t.Helper()
	n, err := proc.FDs(p.cmd.Process.Pid)
	if err != nil {
		t.Fatalf("count the server's fds: %v", err)
	}
	return n
}

// cpuTime is the child's CPU time (user + system) so far.
func (p *lowProcess) cpuTime(t *testing.T) time.Duration {
	t.Helper()
	st, err := proc.ReadStat(p.cmd.Process.Pid)
	if err != nil {
		t.Fatalf("read the server's CPU time: %v", err)
	}
	return st.CPU()
}

// assertIdle measures the child's CPU time over one second while nothing
// asks it for work, and fails when it looks like a spinning loop.
func (p *lowProcess) assertIdle(t *testing.T, what string) {
	t.Helper()
	idleShare(t, what, "the server process", p.cpuTime)
}

// stop closes the child's stdin, so it shuts its server down and exits, and
// requires a clean exit.
func (p *lowProcess) stop(t *testing.T) {
	t.Helper()
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the server process still runs 15s after it was told to stop")
	}
	if !p.cmd.ProcessState.Success() {
		t.Errorf("the server process: %v%s", p.cmd.ProcessState, p.output())
	}
}
