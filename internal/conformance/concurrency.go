package conformance

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func concurrencyTests() []test {
	return []test{
		{name: "500 connections x 20 requests", concurrent: true, run: testManyConns},
		{name: "half-close after requests", run: func(t *testing.T, s *target) {
			send := get + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get
			halfClose(t, s, send, ok+head(ok)+ok+ok)
		}},
		{name: "half-close after 1000 requests", run: func(t *testing.T, s *target) {
			halfClose(t, s, strings.Repeat(get, 1000), strings.Repeat(ok, 1000))
		}},
		{name: "half-close after one request", run: func(t *testing.T, s *target) {
			halfClose(t, s, get, ok)
		}},
		{name: "half-close at once", run: func(t *testing.T, s *target) {
			halfClose(t, s, "", "")
		}},
		{name: "half-close after a bad request", run: func(t *testing.T, s *target) {
			halfClose(t, s, get+"GET / HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n", ok+badRequest)
		}},
		{name: "reset mid-pipeline", run: testResets},
		{name: "reset beside others", concurrent: true, run: testResetsBeside},
	}
}

// halfClose sends send, shuts the client's write side, and requires want
// followed by the server closing the connection.
func halfClose(t *testing.T, s *target, send, want string) {
	t.Helper()
	c := s.dial(t)
	if send != "" {
		c.send(send)
	}
	if err := c.c.CloseWrite(); err != nil {
		t.Fatalf("shutdown(SHUT_WR): %v", err)
	}
	got, e := c.readAll(ioTimeout)
	if string(got) != want || e != endEOF {
		t.Fatalf("after a half-close: got %s then %s, want the answers then the connection closed (EOF)\n%s", clipped(got), e, mismatch(got, want))
	}
}

func clipped(b []byte) string { return fmt.Sprintf("%d bytes %q", len(b), clip(b)) }

// testManyConns opens 500 connections, then has each make 20 requests of
// varied shapes, one at a time, checking every answer.
func testManyConns(t *testing.T, s *target) {
	const conns, requests = 500, 20
	shapes := []struct{ send, want string }{
		{get, ok},
		{"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", head(ok)},
		{"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\npayload", ok},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", okKeepAlive},
		{get + get, ok + ok},
	}
	cs := make([]*client, conns)
	for i := range cs {
		cs[i] = s.dial(t)
	}
	deadline := time.Now().Add(30 * time.Second)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.c.SetDeadline(deadline)
			buf := make([]byte, 2*len(okKeepAlive))
			for r := range requests {
				x := shapes[(i+r)%len(shapes)]
				if _, err := io.WriteString(c.c, x.send); err != nil {
					errs <- fmt.Errorf("conn %d request %d: write: %w", i, r, err)
					return
				}
				got := buf[:len(x.want)]
				if n, err := io.ReadFull(c.c, got); err != nil {
					errs <- fmt.Errorf("conn %d request %d: read: %w\n%s", i, r, err, mismatch(got[:n], x.want))
					return
				}
				if string(got) != x.want {
					errs <- fmt.Errorf("conn %d request %d: wrong bytes\n%s", i, r, mismatch(got, x.want))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d connections failed", failed, conns)
	}
}

// resetters are clients that reset their connection (SO_LINGER 0, then
// close) at awkward moments. Each returns once it has reset.
var resetters = []struct {
	name string
	run  func(c *net.TCPConn, round int)
}{
	{"before reading anything", func(c *net.TCPConn, round int) {
		io.WriteString(c, strings.Repeat(get, 1000))
		time.Sleep(time.Duration(round%3) * time.Millisecond)
	}},
	{"after reading part of the answers", func(c *net.TCPConn, round int) {
		io.WriteString(c, strings.Repeat(get, 1000))
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		io.ReadFull(c, make([]byte, 1+round*997%(1000*len(ok))))
	}},
	{"in the middle of a body", func(c *net.TCPConn, round int) {
		io.WriteString(c, get+"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("b", 1000*(round%10)))
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		io.ReadFull(c, make([]byte, len(ok)))
	}},
	{"in the middle of a head", func(c *net.TCPConn, round int) {
		io.WriteString(c, get+get+"GET / HTTP/1.1\r\nHost: loc"[:round%24])
		time.Sleep(time.Millisecond)
	}},
	{"while the server cannot write", func(c *net.TCPConn, round int) {
		// Many answers the client never reads: the server's writes back up
		// until the reset.
		c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		pipe := strings.Repeat(get, 1000)
		for range 100 {
			if _, err := io.WriteString(c, pipe); err != nil {
				break
			}
		}
	}},
}

// resetAll runs every resetter rounds times against s.
func resetAll(t *testing.T, s *target, rounds int, after func()) {
	t.Helper()
	for _, r := range resetters {
		for round := range rounds {
			c := s.dial(t)
			r.run(c.c, round)
			if err := c.c.SetLinger(0); err != nil {
				t.Fatalf("SO_LINGER: %v", err)
			}
			c.c.Close()
			if after != nil {
				after()
			}
		}
	}
}

// testResets: after each reset, a new client is served.
func testResets(t *testing.T, s *target) {
	resetAll(t, s, 6, func() {
		c := s.dial(t)
		c.send(get)
		c.expect(ok)
		c.c.Close()
	})
}

// testResetsBeside: while clients reset around it, a client keeps being
// served on its own connection, and new ones are served after.
func testResetsBeside(t *testing.T, s *target) {
	steady := s.dial(t)
	resetAll(t, s, 10, func() {
		steady.send(get)
		steady.expect(ok)
	})
	for range 10 {
		c := s.dial(t)
		c.send(get + get)
		c.expect(ok + ok)
		c.c.Close()
	}
	steady.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	steady.expect(okClose)
	steady.expectClosed()
}
