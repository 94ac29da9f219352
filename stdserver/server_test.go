package stdserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/testnet"
)

func TestBasic(t *testing.T) {
	testnet.NoLeaks(t)
	for _, serial := range []bool{false, true} {
		cfg := config()
		cfg.Serial = serial
		s := start(t, cfg)

		c := testnet.Dial(t, s.Addr())
		testnet.Converse(t, c,
			testnet.Step{Send: get, Want: proto.OK},
			testnet.Step{Send: "HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", Want: proto.OK[:len(proto.OK)-len(proto.Body)]},
			testnet.Step{Send: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", Want: proto.OKKeepAlive},
			testnet.Step{Send: "GET / HTTP/1.0\r\n\r\n", Want: proto.OKClose},
		)
		testnet.ExpectEOF(t, c, 5*time.Second)
	}
}

func TestPipelining(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	for _, n := range []int{1, 16, 1000} {
		c := testnet.Dial(t, s.Addr())
		testnet.Converse(t, c,
			testnet.Step{Send: strings.Repeat(get, n), Want: bytes.Repeat(proto.OK, n)},
			// A body split from its head, and a request split inside its head.
			testnet.Step{Send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab"},
			testnet.Step{Send: "cdeGET / HT", Want: proto.OK},
			testnet.Step{Send: "TP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Want: proto.OKClose},
		)
		testnet.ExpectEOF(t, c, 5*time.Second)
	}
}

// A head that outgrows the small read buffer is still read whole.
func TestLargeHead(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	c := testnet.Dial(t, s.Addr())
	head := "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", proto.MaxHead-50) + "\r\n\r\n"
	for i := 0; i < len(head); i += 1000 {
		testnet.Send(t, c, head[i:min(i+1000, len(head))])
	}
	testnet.Expect(t, c, proto.OK, 5*time.Second)
	testnet.Send(t, c, "GET / HTTP/1.1\r\nX: "+strings.Repeat("a", proto.MaxHead))
	testnet.Expect(t, c, proto.HeaderTooLarge, 5*time.Second)
	testnet.ExpectEOF(t, c, 5*time.Second)
}

// After an error the server half-closes and drains: the client reads the
// responses, then a clean end of stream, even while it keeps sending.
func TestErrorDrain(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	c := testnet.Dial(t, s.Addr())
	testnet.Send(t, c, get+"BAD\r\n\r\n")
	junk := strings.Repeat("x", 64<<10)
	for range 4 {
		testnet.Send(t, c, junk) // drained by the server, not answered
	}
	testnet.Expect(t, c, append(append([]byte{}, proto.OK...), proto.BadRequest...), 5*time.Second)
	testnet.ExpectEOF(t, c, 5*time.Second)

	// The server closes after the drain even if the client never stops.
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(c, "y"); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := time.Since(start); d >= 5*time.Second {
		t.Fatalf("the connection was still open %v after the error", d)
	}
}

// Two clients of a slow serial server are answered one after the other: the
// second is not even read while the first stays connected.
func TestSerial(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.Serial = true
	cfg.Delay = 100 * time.Millisecond
	s := start(t, cfg)

	a := testnet.Dial(t, s.Addr())
	testnet.Send(t, a, get)
	testnet.Expect(t, a, proto.OK, 5*time.Second)
	b := testnet.Dial(t, s.Addr())
	testnet.Send(t, b, get)
	testnet.ExpectSilence(t, b, 500*time.Millisecond)
	testnet.Send(t, a, get)
	testnet.Expect(t, a, proto.OK, 5*time.Second)
	a.Close()
	testnet.Expect(t, b, proto.OK, 5*time.Second)
}

// The same clients of the goroutine-per-connection server are served
// side by side.
func TestConcurrent(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.Delay = 100 * time.Millisecond
	s := start(t, cfg)

	a := testnet.Dial(t, s.Addr())
	testnet.Send(t, a, get)
	testnet.Expect(t, a, proto.OK, 5*time.Second)
	b := testnet.Dial(t, s.Addr())
	testnet.Send(t, b, get)
	testnet.Expect(t, b, proto.OK, 5*time.Second)
	testnet.Send(t, a, get)
	testnet.Expect(t, a, proto.OK, 5*time.Second)
}

func TestMaxConns(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.MaxConns = 2
	s := start(t, cfg)

	var held []*net.TCPConn
	for range 2 {
		c := testnet.Dial(t, s.Addr())
		testnet.Send(t, c, get)
		testnet.Expect(t, c, proto.OK, 5*time.Second)
		held = append(held, c)
	}
	extra := testnet.Dial(t, s.Addr())
	testnet.Expect(t, extra, proto.ServiceUnavailable, 5*time.Second)
	testnet.ExpectEOF(t, extra, 5*time.Second)

	// Once a client leaves, a new one is served (the server notices the
	// close a moment later).
	held[0].Close()
	testnet.AwaitServed(t, s.Addr(), 5*time.Second)
}

func TestIdleTimeout(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.IdleTimeout = 300 * time.Millisecond
	s := start(t, cfg)

	// A connection with traffic more often than the timeout stays open.
	c := testnet.Dial(t, s.Addr())
	for range 8 {
		testnet.Send(t, c, get)
		testnet.Expect(t, c, proto.OK, 5*time.Second)
		time.Sleep(100 * time.Millisecond)
	}
	// An idle one is closed, not before the timeout.
	idle := time.Now()
	testnet.ExpectEOF(t, c, 5*time.Second)
	if d := time.Since(idle); d < cfg.IdleTimeout/2 {
		t.Fatalf("closed after %v idle, want about %v", d, cfg.IdleTimeout)
	}
	// A body that stops arriving counts as idle too.
	c = testnet.Dial(t, s.Addr())
	testnet.Send(t, c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	testnet.ExpectEOF(t, c, 5*time.Second)
}

func TestHeaderTimeout(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.HeaderTimeout = 400 * time.Millisecond
	cfg.IdleTimeout = 200 * time.Millisecond // shorter: must not close a slow head
	s := start(t, cfg)

	c := testnet.Dial(t, s.Addr())
	testnet.Send(t, c, get)
	testnet.Expect(t, c, proto.OK, 5*time.Second)
	began := time.Now()
	testnet.Send(t, c, "GET / HTTP/1.1\r\n")
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		// One byte every 50 ms: the head never completes.
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.Write([]byte("X")); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(done); wg.Wait() })
	testnet.Expect(t, c, proto.RequestTimeout, 5*time.Second)
	if d := time.Since(began); d < cfg.HeaderTimeout/2 {
		t.Fatalf("408 after %v, want about %v", d, cfg.HeaderTimeout)
	}
	testnet.ExpectEOF(t, c, 5*time.Second)
}

// With both timeouts off a connection sets no deadline: a head that stalls
// is finished later and answered, and an idle connection stays open.
func TestNoTimeouts(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.IdleTimeout, cfg.HeaderTimeout = 0, 0
	s := start(t, cfg)
	if s.timed {
		t.Fatal("timed with both timeouts off")
	}
	c := testnet.Dial(t, s.Addr())
	testnet.Converse(t, c, testnet.Step{Send: get + get[:9], Want: proto.OK})
	testnet.ExpectSilence(t, c, 200*time.Millisecond)
	testnet.Converse(t, c, testnet.Step{Send: get[9:] + get, Want: bytes.Repeat(proto.OK, 2)})
	testnet.ExpectSilence(t, c, 200*time.Millisecond)
	testnet.Converse(t, c, testnet.Step{Send: get, Want: proto.OK})
}

// Shutdown delivers the delayed responses in flight whole, closes idle
// connections, and returns once everything is closed.
func TestShutdown(t *testing.T) {
	testnet.NoLeaks(t)
	for _, serial := range []bool{false, true} {
		cfg := config()
		cfg.Serial = serial
		cfg.Delay = 500 * time.Millisecond
		s, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		busy := testnet.Dial(t, s.Addr())
		var idle []net.Conn
		if !serial {
			c := testnet.Dial(t, s.Addr())
			testnet.Converse(t, c, testnet.Step{Send: get, Want: proto.OK})
			idle = append(idle, c)
		}
		testnet.ShutdownMidBatch(t, s, busy, strings.Repeat(get, 3), bytes.Repeat(proto.OK, 3), idle...)
	}
}

// When Shutdown's context ends first, every connection closes at once.
func TestShutdownForced(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.Delay = time.Minute
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := testnet.Dial(t, s.Addr())
	testnet.Send(t, c, get)
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's error", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("forced Shutdown took %v", d)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 64)); n > 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want the connection closed, got %d bytes, %v", n, err)
	}
}

func TestStartErrors(t *testing.T) {
	cfg := config()
	cfg.Trigger = "sideways"
	if _, err := Start(cfg); err == nil {
		t.Fatal("Start accepted an invalid setting")
	}
	s := start(t, config())
	cfg = config()
	cfg.Addr = s.Addr()
	if _, err := Start(cfg); err == nil {
		t.Fatal("Start listened on an address in use")
	}
}
