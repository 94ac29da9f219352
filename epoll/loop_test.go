package epoll

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
)

// modes is every trigger and accept mode, with two loops so that accept
// spreads connections (reuseport) or shares one listener (exclusive).
func modes(t *testing.T, f func(t *testing.T, cfg serve.Config)) {
	for _, trigger := range []string{serve.TriggerLevel, serve.TriggerEdge} {
		for _, accept := range []string{serve.AcceptReusePort, serve.AcceptExclusive} {
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
			write(t, c, get)
			expect(t, c, proto.OK)
			write(t, c, "HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n")
			expect(t, c, proto.OKClose[:len(proto.OKClose)-len(proto.Body)])
			expectEOF(t, c)
		}
	})
}

func TestPipeline(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		c := dial(t, s)
		for _, n := range []int{1, 16, 1000, 5000} {
			go io.WriteString(c, strings.Repeat(get, n))
			expect(t, c, repeat(proto.OK, n))
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
			write(t, c, req[i:i+1])
			time.Sleep(time.Millisecond)
		}
		expect(t, c, repeat(proto.OK, 3))
	})
}

// A client that half-closes after its requests still gets every response.
func TestHalfClose(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		c := dial(t, s)
		write(t, c, strings.Repeat(get, 3))
		c.CloseWrite()
		expect(t, c, repeat(proto.OK, 3))
		expectEOF(t, c)
	})
}

// An error is answered after the responses already owed, then the server
// half-closes and stops answering.
func TestErrorDrain(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		c := dial(t, s)
		write(t, c, get+get+"BROKEN\r\n\r\n"+get)
		expect(t, c, append(repeat(proto.OK, 2), proto.BadRequest...))
		expectEOF(t, c)
		// The server discards, rather than answers, what comes after.
		write(t, c, get)
		c.CloseWrite()
		expectEOF(t, c)
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
	write(t, c, get)
	time.Sleep(20 * time.Millisecond)
	write(t, c, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
	expect(t, c, append(append([]byte{}, proto.OK...), proto.OKClose...))
	expectEOF(t, c)
}

func TestIdleTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.IdleTimeout = 200 * time.Millisecond
	s := start(t, cfg)
	c := dial(t, s)
	write(t, c, get)
	expect(t, c, proto.OK)
	began := time.Now()
	expectEOF(t, c)
	if d := time.Since(began); d < 150*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
}

func TestHeaderTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.HeaderTimeout = 200 * time.Millisecond
	s := start(t, cfg)
	c := dial(t, s)
	write(t, c, get+"GET / HTTP/1.1\r\nHost:")
	expect(t, c, proto.OK)
	expect(t, c, proto.RequestTimeout)
	expectEOF(t, c)
}

func TestManyConnections(t *testing.T) {
	modes(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- converse(s.Addr(), 20)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
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
