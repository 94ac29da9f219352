package conformance

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/testnet"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
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
	scaleEnv = "READINESS_CONFORMANCE_SCALE_ADDR"
	// scaleHeld begins the client's line once every connection is open and
	// every request answered.
	scaleHeld = "scale: held "
)

// testScale holds scaleConns keep-alive connections open at once and sends
// scaleRounds requests on each; not one may fail. The clients run in a
// child process (this test binary again, running only this case): client
// and server in one process would need two descriptors per connection,
// beyond the open-file limit a test can count on. Each process raises its
// open-file limit as far as the case needs, if it is lower (which only
// widens what the tests running beside it may open).
func testScale(t *testing.T, m Model) {
	if testnet.Nofile(t).Cur < scaleNofile {
		testnet.SetNofile(t, scaleNofile)
	}
	if addr := os.Getenv(scaleEnv); addr != "" {
		scaleClient(t, addr)
		return
	}
	cfg := baseConfig(m)
	cfg.MaxConns = scaleConns + 1000
	s := start(t, m, cfg)
	c := s.dial(t)
	c.send(get)
	c.expect(ok)
	c.c.Close()
	addr := c.c.RemoteAddr().(*net.TCPAddr)

	began := time.Now()
	clients := startSelf(t, scaleEnv+"="+s.addr, scaleHeld)
	line, err := clients.await(5 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("client process after %v: %s", time.Since(began).Round(time.Millisecond), line)
	// The connections held are the server's descriptors on its address,
	// besides its listeners.
	if got := len(socketsOn(t, addr)); got < scaleConns {
		t.Errorf("the server holds %d sockets on %v with %d connections open", got, addr, scaleConns)
	}
	clients.stop(t)
}

// scaleClient is the child process's side: open every connection, send the
// rounds, report, hold the connections until the parent closes stdin.
func scaleClient(t *testing.T, addr string) {
	var (
		mu      sync.Mutex
		errs    []error
		nerr    int
		rounds  sync.WaitGroup
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
	for w := range scaleWorkers {
		rounds.Add(1)
		done.Go(func() {
			conns := scaleDial(addr, w, fail)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for r := range scaleRounds {
				for _, c := range conns {
					c.SetDeadline(time.Now().Add(ioTimeout))
					if _, err := io.WriteString(c, get); err != nil {
						fail(fmt.Errorf("round %d: write: %w", r, err))
					}
				}
				for _, c := range conns {
					if err := netcheck.Expect(c, ok); err != nil {
						fail(fmt.Errorf("round %d: %w", r, err))
					}
				}
			}
			rounds.Done()
			<-release
		})
	}
	rounds.Wait()
	fmt.Printf("%s%d connections, %d requests, %d errors\n", scaleHeld, scaleConns, scaleConns*scaleRounds, nerr)
	readStdin()
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
		d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%scaleSources))}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			fail(fmt.Errorf("connection %d: dial: %w", i, err))
			continue
		}
		conns = append(conns, c.(*net.TCPConn))
	}
	return conns
}
