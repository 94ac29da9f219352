package testnet

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
)

// Get is the plain request the tests send.
const Get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// Start starts a server with start(cfg) and shuts it down when the test ends,
// failing the test if that shutdown is not graceful within 5 s.
func Start[S serve.Server](t testing.TB, start func(serve.Config) (S, error), cfg serve.Config) S {
	t.Helper()
	s, err := start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// Config is a test server's settings: a free loopback port, loops loops, and
// timeouts long enough not to interfere with a test that does not set them.
func Config(loops int) serve.Config {
	return serve.Config{
		Addr:          "127.0.0.1:0",
		Loops:         loops,
		IdleTimeout:   time.Minute,
		HeaderTimeout: 10 * time.Second,
	}
}

// ShutdownAsync runs s.Shutdown, with 5 s to finish, in a goroutine and
// returns the channel its error arrives on.
func ShutdownAsync(s serve.Server) <-chan error {
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errc <- s.Shutdown(ctx)
	}()
	return errc
}

// ShutdownMidBatch checks a graceful Shutdown of s, which delays its
// responses: busy sends req, and once the server has had time to read it,
// Shutdown begins. busy must still get want whole, then busy and every one
// of others an EOF, Shutdown must return nil, and the address must refuse
// connections afterwards.
func ShutdownMidBatch(t testing.TB, s serve.Server, busy net.Conn, req string, want []byte, others ...net.Conn) {
	t.Helper()
	Send(t, busy, req)
	time.Sleep(100 * time.Millisecond) // let the server read the requests
	errc := ShutdownAsync(s)
	Expect(t, busy, want, 5*time.Second)
	for _, c := range append([]net.Conn{busy}, others...) {
		ExpectEOF(t, c, 5*time.Second)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ExpectRefused(t, s.Addr())
}

// ExpectRefused checks that a connection to addr, a server's address after
// its Shutdown, is not accepted.
func ExpectRefused(t testing.TB, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("a connection was accepted after Shutdown")
	}
}

// AwaitServed dials addr, a server at its MaxConns that has just lost a
// connection, until a request is answered with proto.OK, within d. Until
// then every answer must be (the start of) proto.ServiceUnavailable.
func AwaitServed(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c := Dial(t, addr)
		Send(t, c, Get)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(proto.OK))
		n, _ := io.ReadFull(c, got)
		c.Close()
		if bytes.Equal(got[:n], proto.OK) {
			return
		}
		if !bytes.HasPrefix(proto.ServiceUnavailable, got[:n]) {
			t.Fatalf("got %q", got[:n])
		}
		if time.Now().After(deadline) {
			t.Fatal("still refused after a connection left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
