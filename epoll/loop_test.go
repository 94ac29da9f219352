package epoll

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

// modes is every trigger and accept mode, with two loops so that accept
// spreads connections (reuseport) or shares one listener (exclusive,
// shared).
func modes(t *testing.T, f func(t *testing.T, cfg serve.Config)) {
	for _, trigger := range []string{serve.TriggerLevel, serve.TriggerEdge} {
		for _, accept := range []string{serve.AcceptReusePort, serve.AcceptExclusive, serve.AcceptShared} {
			t.Run(trigger+"/"+accept, func(t *testing.T) {
				cfg := testConfig()
				cfg.Loops, cfg.Trigger, cfg.Accept = 2, trigger, accept
				f(t, cfg)
			})
		}
	}
}

func TestRequest(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		for i := 0; i < 8; i++ { // several connections, so both loops get some
			c := dial(t, s)
			testnet.Send(t, c, get)
			testnet.Expect(t, c, proto.OK, wait)
			testnet.Send(t, c, "HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n")
			testnet.Expect(t, c, proto.OKClose[:len(proto.OKClose)-len(proto.Body)], wait)
			testnet.ExpectClosed(t, c, wait)
		}
	})
}

func TestPipeline(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		c := dial(t, s)
		for _, n := range []int{1, 16, 1000, 5000} {
			go io.WriteString(c, strings.Repeat(get, n))
			testnet.Expect(t, c, bytes.Repeat(proto.OK, n), wait)
		}
	})
}

func TestSplitHead(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		c := dial(t, s)
		c.SetNoDelay(true)
		req := get + "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + get
		for i := 0; i < len(req); i++ {
			testnet.Send(t, c, req[i:i+1])
			time.Sleep(time.Millisecond)
		}
		testnet.Expect(t, c, bytes.Repeat(proto.OK, 3), wait)
	})
}

// A client that half-closes after its requests still gets every response.
func TestHalfClose(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		c := dial(t, s)
		testnet.Send(t, c, strings.Repeat(get, 3))
		c.CloseWrite()
		testnet.Expect(t, c, bytes.Repeat(proto.OK, 3), wait)
		testnet.ExpectClosed(t, c, wait)
	})
}

// An error is answered after the responses already owed, then the server
// half-closes and stops answering.
func TestErrorDrain(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		c := dial(t, s)
		testnet.Send(t, c, get+get+"BROKEN\r\n\r\n"+get)
		testnet.Expect(t, c, append(bytes.Repeat(proto.OK, 2), proto.BadRequest...), wait)
		testnet.ExpectClosed(t, c, wait)
		// The server discards, rather than answers, what comes after.
		testnet.Send(t, c, get)
		c.CloseWrite()
		testnet.ExpectClosed(t, c, wait)
	})
}

func TestDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	// Two requests on two connections of one loop, sent together: a timer
	// answers both after one delay, a blocked loop the second after two.
	for _, tc := range []struct {
		mode       string
		secondLate bool
	}{{serve.DelayTimer, false}, {serve.DelayBlock, true}} {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := testConfig()
			cfg.Delay, cfg.DelayMode = delay, tc.mode
			s := start(t, cfg)
			a, b := dial(t, s), dial(t, s)
			began := time.Now()
			var wg sync.WaitGroup
			var took [2]time.Duration
			for i, c := range []io.ReadWriter{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					io.WriteString(c, get)
					buf := make([]byte, len(proto.OK))
					if _, err := io.ReadFull(c, buf); err != nil || string(buf) != string(proto.OK) {
						t.Errorf("connection %d: %q, %v", i, buf, err)
					}
					took[i] = time.Since(began)
				}()
			}
			wg.Wait()
			first, second := min(took[0], took[1]), max(took[0], took[1])
			if first < delay {
				t.Errorf("first response after %v, before the delay %v", first, delay)
			}
			if late := second >= 2*delay-50*time.Millisecond; late != tc.secondLate {
				t.Errorf("second response after %v (first %v): want late=%v", second, first, tc.secondLate)
			}
		})
	}
}

// While a delayed batch waits, later input of that connection is not
// answered before it: responses stay in order, one delay per batch.
func TestDelayOrder(t *testing.T) {
	cfg := testConfig()
	cfg.Delay, cfg.DelayMode = 100*time.Millisecond, serve.DelayTimer
	s := start(t, cfg)
	c := dial(t, s)
	testnet.Send(t, c, get)
	time.Sleep(20 * time.Millisecond)
	testnet.Send(t, c, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
	testnet.Expect(t, c, append(append([]byte{}, proto.OK...), proto.OKClose...), wait)
	testnet.ExpectClosed(t, c, wait)
}

func TestIdleTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.IdleTimeout = 200 * time.Millisecond
	s := start(t, cfg)
	c := dial(t, s)
	testnet.Send(t, c, get)
	testnet.Expect(t, c, proto.OK, wait)
	began := time.Now()
	testnet.ExpectClosed(t, c, wait)
	if d := time.Since(began); d < 150*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
}

func TestHeaderTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.HeaderTimeout = 200 * time.Millisecond
	s := start(t, cfg)
	c := dial(t, s)
	testnet.Send(t, c, get+"GET / HTTP/1.1\r\nHost:")
	testnet.Expect(t, c, proto.OK, wait)
	testnet.Expect(t, c, proto.RequestTimeout, wait)
	testnet.ExpectClosed(t, c, wait)
}

func TestManyConnections(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		converseAll(t, s.Addr(), 100, 20)
	})
}

// converseAll runs clients conversations of n requests at once, each on a
// new connection, and fails the test on the first error.
func converseAll(t *testing.T, addr string, clients, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- converse(addr, n)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// converse sends n requests one at a time on a new connection.
func converse(addr string, n int) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, len(proto.OK))
	for i := 0; i < n; i++ {
		if _, err := io.WriteString(c, get); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if string(buf) != string(proto.OK) {
			return fmt.Errorf("request %d: %q", i, buf)
		}
	}
	return nil
}
