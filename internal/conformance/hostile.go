package conformance

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// The hostile clients and faults: each points a strange client (or a
// fault) at the server and checks that it keeps serving, leaks nothing and
// loses no response.

func hostileTests() []test {
	return []test{
		{name: "churn", run: testChurn},
		// sameEverywhere: the default cap is the open-file limit at Start
		// minus 64, worked out before any loop runs and whatever the
		// trigger or accept mode; how each mode enforces a cap is the
		// timeouts group's max-conns case, run everywhere.
		{name: "default cap under a low open-file limit", concurrent: true, sameEverywhere: true, model: testLowNofile},
		{name: "ten thousand connections", concurrent: true, model: testScale},
	}
}

// faultTests fault the whole process: its heap, its descriptors.
func faultTests() []test {
	return []test{
		{name: "never reads", concurrent: true, alone: true, configure: func(cfg *serve.Config) {
			cfg.Loops = 1 // the well-behaved client shares the hog's event loop
		}, run: testNeverReads},
		{name: "accept EMFILE", concurrent: true, alone: true, model: testAcceptEMFILE},
	}
}

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
		return writeThenAbort(c, get[:len(get)/2])
	}},
	{name: "reset-mid-pipeline", act: func(c *net.TCPConn) error {
		return writeThenAbort(c, strings.Repeat(get, 50)+get[:10])
	}},
	{name: "reset-mid-body", act: func(c *net.TCPConn) error {
		return writeThenAbort(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789012345678901234567890")
	}},
	{name: "close-unread", act: func(c *net.TCPConn) error {
		_, err := io.WriteString(c, strings.Repeat(get, 20))
		c.Close()
		return err
	}},
	{name: "well-behaved", waits: true, act: func(c *net.TCPConn) error {
		err := netcheck.RoundTrip(c, get, ok, ioTimeout)
		c.Close()
		return err
	}},
}

func writeThenAbort(c *net.TCPConn, s string) error {
	_, err := io.WriteString(c, s)
	netcheck.Abort(c)
	return err
}

// testChurn opens thousands of connections in waves; each wave's
// connections misbehave together and leave together. Afterwards a new
// client is served (and the group checks that nothing leaked).
func testChurn(t *testing.T, s *target) {
	kinds := misbehaviours
	if s.model.Serial {
		kinds = nil
		for _, k := range misbehaviours {
			if !k.waits {
				kinds = append(kinds, k)
			}
		}
	}
	counts := map[string]int{}
	var errs []error
	for w := range churnWaves {
		done, werrs := churnWave(s.addr, w, kinds)
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
	c := s.dial(t)
	c.send(get)
	c.expect(ok)
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
	for g := range churnWorkers {
		opened.Add(1)
		done.Go(func() {
			conns := make([]*net.TCPConn, 0, per)
			for range per {
				c, err := net.DialTimeout("tcp", addr, ioTimeout)
				if err != nil {
					fail(fmt.Errorf("wave %d: dial: %w", wave, err))
					continue
				}
				c.SetDeadline(time.Now().Add(ioTimeout))
				conns = append(conns, c.(*net.TCPConn))
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
		})
	}
	opened.Wait()
	close(release)
	done.Wait()
	return counts, errs
}

// sortedCounts renders a map of counts in key order, for logs.
func sortedCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
