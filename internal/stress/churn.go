package stress

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/proto"
)

// Churn sizes: waves of connections opened together and closed together.
// A wave costs two descriptors per connection in this process (client and
// server), well within the open-file limit Go sets for itself.
const (
	churnWaves   = 3
	churnPerWave = 1000
	churnWorkers = 50 // goroutines a wave's connections are spread over
)

// misbehaviour is one way a churning client leaves.
type misbehaviour struct {
	name string
	// act runs on an open connection and leaves it closed or reset.
	act func(c *net.TCPConn) error
	// waits reports that act waits for an answer, which the serial server
	// gives only once the connections accepted before this one are gone.
	waits bool
}

var misbehaviours = []misbehaviour{
	{name: "close-silent", act: func(c *net.TCPConn) error { return c.Close() }},
	{name: "reset-mid-head", act: func(c *net.TCPConn) error {
		return writeThenReset(c, request[:len(request)/2])
	}},
	{name: "reset-mid-pipeline", act: func(c *net.TCPConn) error {
		return writeThenReset(c, pipeline(50)+request[:10])
	}},
	{name: "reset-mid-body", act: func(c *net.TCPConn) error {
		return writeThenReset(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789012345678901234567890")
	}},
	{name: "close-unread", act: func(c *net.TCPConn) error {
		_, err := io.WriteString(c, pipeline(20))
		c.Close()
		return err
	}},
	{name: "well-behaved", waits: true, act: func(c *net.TCPConn) error {
		err := roundTrip(c, request, proto.OK)
		c.Close()
		return err
	}},
}

func writeThenReset(c *net.TCPConn, s string) error {
	_, err := io.WriteString(c, s)
	reset(c)
	return err
}

// testChurn opens thousands of connections in waves; each wave's
// connections misbehave together and leave together. Afterwards a new client
// is served and the server holds no more descriptors or goroutines than
// before.
func testChurn(t *testing.T, m conformance.Model) {
	srv := start(t, m, config(m))
	addr := srv.Addr()
	warmUp(t, addr)
	base := baseline(t)

	kinds := misbehaviours
	if m.Serial {
		kinds = nil
		for _, k := range misbehaviours {
			if !k.waits {
				kinds = append(kinds, k)
			}
		}
	}
	counts := map[string]int{}
	var errs []error
	for w := 0; w < churnWaves; w++ {
		done, werrs := churnWave(addr, w, kinds)
		for k, n := range done {
			counts[k] += n
		}
		errs = append(errs, werrs...)
	}
	t.Logf("churned %d connections: %s", churnWaves*churnPerWave, sortedCounts(counts))
	for i, err := range errs {
		if i == 5 {
			t.Errorf("... and %d more errors", len(errs)-5)
			break
		}
		t.Error(err)
	}

	c := mustDial(t, addr)
	if err := roundTrip(c, request, proto.OK); err != nil {
		t.Fatalf("a new client after the churn: %v", err)
	}
	c.Close()
	settle(t, base, 5*time.Second)
}

// churnWave opens churnPerWave connections, then has each misbehave, all at
// about the same moment. It returns how many of each kind ran and the errors
// of the well-behaved clients and of dialing.
func churnWave(addr string, wave int, kinds []misbehaviour) (map[string]int, []error) {
	var (
		mu      sync.Mutex
		counts  = map[string]int{}
		errs    []error
		opened  sync.WaitGroup
		done    sync.WaitGroup
		release = make(chan struct{})
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	per := churnPerWave / churnWorkers
	for g := 0; g < churnWorkers; g++ {
		opened.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			conns := make([]*net.TCPConn, 0, per)
			for i := 0; i < per; i++ {
				c, err := dial(addr, nil)
				if err != nil {
					fail(fmt.Errorf("wave %d: dial: %w", wave, err))
					continue
				}
				_ = c.SetDeadline(time.Now().Add(ioTimeout))
				conns = append(conns, c)
			}
			opened.Done()
			<-release
			for i, c := range conns {
				k := kinds[(g*per+i+wave)%len(kinds)]
				err := k.act(c)
				// Writes of the hostile clients may fail: the server can
				// close a connection whose peer misbehaves. Only the
				// well-behaved clients must succeed.
				if err != nil && k.waits {
					fail(fmt.Errorf("wave %d: %s: %w", wave, k.name, err))
				}
				mu.Lock()
				counts[k.name]++
				mu.Unlock()
			}
		}()
	}
	opened.Wait()
	close(release)
	done.Wait()
	return counts, errs
}

// mustDial connects to addr and closes the connection when the test ends.
func mustDial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := dial(addr, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
