package conformance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// apart is the pause between two writes meant to reach the server in
// separate reads. The client's socket has TCP_NODELAY (Go's default), so
// each write leaves at once; the answers must not depend on it anyway.
const apart = time.Millisecond

func splitTests() []test {
	return []test{
		{name: "request split everywhere", run: func(t *testing.T, s *target) {
			for _, x := range []struct{ send, want string }{
				{"GET /split HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n", ok},
				{"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", head(ok)},
				{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", okKeepAlive},
				{"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world", ok},
				{"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", ok},
			} {
				splitEverywhere(t, s, x.send, x.want)
			}
		}},
		{name: "bad request split everywhere", run: func(t *testing.T, s *target) {
			// The closing request split everywhere is in closing.go.
			send := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n"
			splitEnding(t, s, "", send, "", ok+badRequest)
		}},
		{name: "request split three ways", run: func(t *testing.T, s *target) {
			send := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
			c := s.dial(t)
			for i := 1; i < len(send); i++ {
				for j := i + 1; j < len(send); j += 3 {
					c.send(send[:i])
					c.send(send[i:j])
					time.Sleep(apart / 4)
					c.send(send[j:])
					c.expect(ok)
				}
			}
		}},
		{name: "request byte by byte", run: func(t *testing.T, s *target) {
			send := "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabcdef" + get
			c := s.dial(t)
			for i := range len(send) {
				c.send(send[i : i+1])
				time.Sleep(apart / 4)
			}
			c.expect(ok + ok)
			c.expectOpen()
		}},
		{name: "pipeline 1", run: func(t *testing.T, s *target) { pipeline(t, s, 1) }},
		{name: "pipeline 16", run: func(t *testing.T, s *target) { pipeline(t, s, 16) }},
		{name: "pipeline 1000", run: func(t *testing.T, s *target) { pipeline(t, s, 1000) }},
		{name: "pipeline 1000 closing", run: func(t *testing.T, s *target) {
			c := s.dial(t)
			c.send(strings.Repeat(get, 999) + "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			c.expect(strings.Repeat(ok, 999) + okClose)
			c.expectClosed()
		}},
		{name: "pipeline split everywhere", run: func(t *testing.T, s *target) {
			send := get + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" + get
			splitEverywhere(t, s, send, ok+head(ok)+ok+ok)
		}},
		{name: "body split everywhere", run: func(t *testing.T, s *target) {
			bodyText := "0123456789abcdefghijklmnopqrstuvwxyz"
			send := fmt.Sprintf("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(bodyText), bodyText) + get
			splitEverywhere(t, s, send, ok+ok)
		}},
		{name: "bodies split at random", run: testBodiesRandom},
	}
}

// splitEverywhere sends send in two writes, cut at every byte boundary in
// turn, on one connection, and requires want each time.
func splitEverywhere(t *testing.T, s *target, send, want string) {
	t.Helper()
	c := s.dial(t)
	for i := 1; i < len(send); i++ {
		c.send(send[:i])
		time.Sleep(apart)
		c.send(send[i:])
		c.expect(want)
	}
	c.expectOpen()
	// A serial server takes the next connection only once this one is gone.
	c.c.Close()
}

// splitEnding cuts send, whose answer ends the connection, at every byte
// in turn, each time on a fresh connection: it sends head and the first
// part, then the rest and tail, waits a moment, and requires want, then
// EOF.
func splitEnding(t *testing.T, s *target, head, send, tail, want string) {
	t.Helper()
	for i := 1; i < len(send); i++ {
		c := s.dial(t)
		c.send(head + send[:i])
		time.Sleep(apart)
		c.send(send[i:] + tail)
		time.Sleep(readLate / 10)
		c.expect(want)
		c.expectClosed()
		// A serial server takes the next connection only once this one is
		// gone.
		c.c.Close()
	}
}

// pipeline sends n requests of several shapes in one write and requires the
// n answers in order, with the connection left open.
func pipeline(t *testing.T, s *target, n int) {
	t.Helper()
	shapes := []struct{ send, want string }{
		{get, ok},
		{"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", head(ok)},
		{"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", ok},
		{"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", okKeepAlive},
	}
	var send, want strings.Builder
	for i := range n {
		x := shapes[i%len(shapes)]
		send.WriteString(x.send)
		want.WriteString(x.want)
	}
	c := s.dial(t)
	c.send(send.String())
	c.expect(want.String())
	c.expectOpen()
	c.send(get)
	c.expect(ok)
}

// testBodiesRandom sends requests with bodies from a few bytes to 1 MiB, cut
// into pieces at random places, each followed by a request that must be
// answered: the body was skipped exactly.
func testBodiesRandom(t *testing.T, s *target) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	c := s.dial(t)
	for _, size := range []int{1, 2, 100, 4095, 4096, 4097, 65536, 300000, 1 << 20} {
		b := make([]byte, size)
		for i := range b {
			b[i] = "GET /\r\n HTTP/1.1:"[rng.IntN(17)]
		}
		stream := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", size, b) + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
		var cuts []int
		for range 1 + rng.IntN(6) {
			cuts = append(cuts, rng.IntN(len(stream)))
		}
		cuts = append(cuts, len(stream))
		from := 0
		slices.Sort(cuts)
		for _, to := range cuts {
			if to > from {
				c.send(stream[from:to])
				time.Sleep(apart)
				from = to
			}
		}
		got, e := c.readAtLeast(len(ok)+len(head(ok)), ioTimeout)
		if string(got) != ok+head(ok) {
			t.Fatalf("body of %d bytes cut at %v (seed %d): got %q then %s\n%s", size, cuts, seed, clip(got), e, mismatch(got, ok+head(ok)))
		}
	}
	c.expectOpen()
}
