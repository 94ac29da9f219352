package load

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
)

// testServer is a tiny goroutine-per-connection server on 127.0.0.1:0
// whose behaviour each test chooses: a correct one, or one that is wrong
// in exactly one way.
type testServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startServer serves every accepted connection with handle in its own
// goroutine, and stops (closing everything) when the test ends.
func startServer(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return ln.Addr().String()
}

// serveCorrect answers with the shared framing, as the lab's servers do.
// before, if set, runs with the number of requests answered by each read,
// before the answers are written.
func serveCorrect(before func(n int)) func(net.Conn) {
	return func(c net.Conn) {
		var st proto.State
		in := make([]byte, 0, 64<<10)
		out := make([]byte, 0, 64<<10)
		for {
			n, err := c.Read(in[len(in):cap(in)])
			if err != nil {
				return
			}
			in = in[:len(in)+n]
			var used int
			var v proto.Verdict
			out, used, v = st.Serve(in, out[:0])
			if before != nil && len(out) > 0 {
				before(len(out) / len(proto.OK))
			}
			if len(out) > 0 {
				if _, err := c.Write(out); err != nil {
					return
				}
			}
			if v != proto.Open {
				return
			}
			in = in[:copy(in, in[used:])]
		}
	}
}

// readRequest reads until the end of one request head; false on error.
func readRequest(c net.Conn, buf []byte) bool {
	got := 0
	for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) {
		if got == len(buf) {
			return false
		}
		n, err := c.Read(buf[got:])
		if err != nil {
			return false
		}
		got += n
	}
	return true
}

// serveWrongBytes answers every request with one wrong byte.
func serveWrongBytes(c net.Conn) {
	wrong := bytes.Replace(proto.OK, []byte("World"), []byte("world"), 1)
	buf := make([]byte, 4096)
	for readRequest(c, buf) {
		if _, err := c.Write(wrong); err != nil {
			return
		}
	}
}

// serveEarlyClose reads a request and closes without answering.
func serveEarlyClose(c net.Conn) {
	readRequest(c, make([]byte, 4096))
}

// serveReset reads a request and resets the connection.
func serveReset(c net.Conn) {
	readRequest(c, make([]byte, 4096))
	// Linger 0: close sends RST instead of FIN.
	c.(*net.TCPConn).SetLinger(0)
}

// serveStall reads requests and never answers (until the client goes).
func serveStall(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// stall makes a correct server pause every response for d once: from at
// after its first request until d later.
type stall struct {
	at, d       time.Duration
	once        sync.Once
	from, until time.Time
}

func (s *stall) wait(int) {
	s.once.Do(func() {
		s.from = time.Now().Add(s.at)
		s.until = s.from.Add(s.d)
	})
	if t := time.Now(); !t.Before(s.from) && t.Before(s.until) {
		time.Sleep(s.until.Sub(t))
	}
}
