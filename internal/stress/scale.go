package stress

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/proto"
)

const (
	scaleConns   = 10000
	scaleRounds  = 3   // requests per connection, one round at a time
	scaleWorkers = 100 // goroutines the connections are spread over
	scaleSources = 4   // source addresses 127.0.0.2 and up, so ports never run short
	// scaleNofile is the open-file limit each of the two processes needs:
	// a descriptor per connection, and room for the rest of the process.
	scaleNofile = scaleConns + 2048

	// scaleEnv carries the server's address to the client process.
	scaleEnv = "READINESS_STRESS_SCALE_ADDR"
	// scaleHeld is the client's line once every connection is open and
	// every request answered.
	scaleHeld = "stress-scale: held"
)

// testScale holds scaleConns keep-alive connections open at once and sends
// scaleRounds requests on each; not one may fail. The clients run in a child
// process (this test binary again, running only this case): client and
// server in one process would need two descriptors per connection, beyond
// the open-file limit a test can count on. Each process raises its
// open-file limit as far as the case needs (the hard limit too, where it is
// lower and the process may) and restores it at the end.
func testScale(t *testing.T, m conformance.Model) {
	raiseNofile(t, scaleNofile)
	if addr := os.Getenv(scaleEnv); addr != "" {
		scaleClient(t, addr)
		return
	}
	cfg := config(m)
	cfg.MaxConns = scaleConns + 1000
	srv := start(t, m, cfg)
	addr := srv.Addr()
	warmUp(t, addr)
	base := baseline(t)

	cmd := exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), scaleEnv+"="+addr)
	var out, errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the client process: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	held := false
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		out.WriteString(line + "\n")
		if strings.HasPrefix(line, scaleHeld) {
			held = true
			t.Logf("client process after %v: %s", time.Since(t0).Round(time.Millisecond), line)
			if got := fdCount(t) - base.fds; got < scaleConns {
				t.Errorf("the server holds %d more descriptors than at rest with %d connections open", got, scaleConns)
			}
			stdin.Close()
		}
	}
	stdin.Close()
	err = cmd.Wait()
	if err != nil || !held {
		t.Errorf("client process: %v\n%s%s", err, out.String(), errOut.String())
	}
	settle(t, base, 10*time.Second)
}

// runPattern is the -test.run pattern that selects exactly the test named.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// scaleClient is the child process's side: open every connection, send the
// rounds, report, hold the connections until the parent closes stdin.
func scaleClient(t *testing.T, addr string) {
	var (
		mu      sync.Mutex
		errs    []error
		nerr    int
		roundWG sync.WaitGroup
		release = make(chan struct{})
		done    sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		nerr++
		if len(errs) < 5 {
			errs = append(errs, err)
		}
		mu.Unlock()
	}
	for w := 0; w < scaleWorkers; w++ {
		roundWG.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			conns := scaleDial(addr, w, fail)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for r := 0; r < scaleRounds; r++ {
				for _, c := range conns {
					_ = c.SetDeadline(time.Now().Add(ioTimeout))
					if _, err := io.WriteString(c, request); err != nil {
						fail(fmt.Errorf("round %d: write: %w", r, err))
					}
				}
				for _, c := range conns {
					if err := expect(c, proto.OK); err != nil {
						fail(fmt.Errorf("round %d: %w", r, err))
					}
				}
			}
			roundWG.Done()
			<-release
		}()
	}
	roundWG.Wait()
	fmt.Printf("%s %d connections, %d requests, %d errors\n", scaleHeld, scaleConns, scaleConns*scaleRounds, nerr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	close(release)
	done.Wait()
	if nerr > 0 {
		t.Errorf("%d errors over %d connections, the first ones:", nerr, scaleConns)
		for _, err := range errs {
			t.Error(err)
		}
	}
}

// scaleDial opens worker w's share of the connections, from the spread
// source addresses.
func scaleDial(addr string, w int, fail func(error)) []*net.TCPConn {
	var conns []*net.TCPConn
	for i := w; i < scaleConns; i += scaleWorkers {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%scaleSources))}
		c, err := dial(addr, src)
		if err != nil {
			fail(fmt.Errorf("connection %d: dial: %w", i, err))
			continue
		}
		conns = append(conns, c)
	}
	return conns
}
