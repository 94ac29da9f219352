package gnetserver

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

func TestRequests(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	c := testnet.Dial(t, s.Addr())

	testnet.Send(t, c, get)
	testnet.Expect(t, c, proto.OK, 5*time.Second)
	testnet.Send(t, c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
	testnet.Expect(t, c, proto.OK[:len(proto.OK)-len(proto.Body)], 5*time.Second)
	// A body, split across writes, is skipped.
	testnet.Send(t, c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
	testnet.ExpectSilence(t, c, 100*time.Millisecond)
	testnet.Send(t, c, "56789"+get[:7])
	testnet.Expect(t, c, proto.OK, 5*time.Second)
	testnet.Send(t, c, get[7:])
	testnet.Expect(t, c, proto.OK, 5*time.Second)
	testnet.Send(t, c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	testnet.Expect(t, c, proto.OKKeepAlive, 5*time.Second)
	testnet.Send(t, c, "GET / HTTP/1.0\r\n\r\n")
	testnet.Expect(t, c, proto.OKClose, 5*time.Second)
	testnet.ExpectEOF(t, c, 5*time.Second)
}

func TestPipeline(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	c := testnet.Dial(t, s.Addr())
	for _, n := range []int{1, 16, 1000} {
		testnet.Send(t, c, strings.Repeat(get, n))
		testnet.Expect(t, c, bytes.Repeat(proto.OK, n), 5*time.Second)
	}
	// A long pipeline ending in Connection: close, read only after it is
	// all sent: every response arrives before the close.
	testnet.Send(t, c, strings.Repeat(get, 5000)+"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"+get)
	testnet.Expect(t, c, append(bytes.Repeat(proto.OK, 5000), proto.OKClose...), 5*time.Second)
	testnet.ExpectEOF(t, c, 5*time.Second)
}

// TestErrors checks the error close: the responses before the bad request,
// then the error, then the half-close (EOF) while the server still reads
// and discards for about proto.DrainTimeout before it closes.
func TestErrors(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	cases := []struct {
		req  string
		resp []byte
	}{
		{"BAD\r\n\r\n", proto.BadRequest},
		{"GET / HTTP/2.0\r\n\r\n", proto.VersionNotSupported},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", proto.NotImplemented},
		{"POST / HTTP/1.1\r\nContent-Length: 9999999\r\n\r\n", proto.ContentTooLarge},
		{"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", proto.MaxHead) + "\r\n\r\n", proto.HeaderTooLarge},
	}
	for _, tc := range cases {
		c := testnet.Dial(t, s.Addr())
		testnet.Send(t, c, get+get+tc.req+get)
		testnet.Expect(t, c, append(bytes.Repeat(proto.OK, 2), tc.resp...), 5*time.Second)
		testnet.ExpectEOF(t, c, 5*time.Second)
	}

	// The drain: writes keep succeeding for a while after the error, then
	// the close turns them into a reset.
	c := testnet.Dial(t, s.Addr())
	testnet.Send(t, c, "BAD\r\n\r\n")
	testnet.Expect(t, c, proto.BadRequest, 5*time.Second)
	testnet.ExpectEOF(t, c, 5*time.Second)
	began := time.Now()
	for {
		_, err := c.Write([]byte("more bytes the server discards\r\n"))
		if err != nil {
			if d := time.Since(began); d < proto.DrainTimeout/2 {
				t.Fatalf("write failed %v after the error response: %v", d, err)
			}
			break
		}
		if time.Since(began) > 5*time.Second {
			t.Fatal("the server still reads 5 s after an error response")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDrainEnds checks that a client closing during the drain ends it.
func TestDrainEnds(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	c := testnet.Dial(t, s.Addr())
	testnet.Send(t, c, "BAD\r\n\r\n")
	testnet.Expect(t, c, proto.BadRequest, 5*time.Second)
	testnet.ExpectEOF(t, c, 5*time.Second)
	c.Close()
	deadline := time.Now().Add(proto.DrainTimeout / 2)
	for s.h.open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("connection still open after the client closed during the drain")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDelay fires one request on each of two connections at once at a
// server with one loop: block mode answers the second a whole delay after
// the first, timer mode answers both together.
func TestDelay(t *testing.T) {
	const delay = 400 * time.Millisecond
	for _, mode := range []string{serve.DelayBlock, serve.DelayTimer} {
		t.Run(mode, func(t *testing.T) {
			testnet.NoLeaks(t)
			cfg := config()
			cfg.Delay, cfg.DelayMode = delay, mode
			s := start(t, cfg)
			a, b := testnet.Dial(t, s.Addr()), testnet.Dial(t, s.Addr())
			began := time.Now()
			testnet.Send(t, a, get)
			testnet.Send(t, b, get)
			var done [2]time.Duration
			for i, c := range []net.Conn{a, b} {
				testnet.Expect(t, c, proto.OK, 5*time.Second)
				done[i] = time.Since(began)
			}
			first, last := min(done[0], done[1]), max(done[0], done[1])
			if first < delay*9/10 {
				t.Fatalf("first response after %v, before the delay", first)
			}
			switch mode {
			case serve.DelayBlock:
				if last < 2*delay*9/10 {
					t.Fatalf("second response after %v: the loop did not block", last)
				}
			case serve.DelayTimer:
				if last >= 2*delay {
					t.Fatalf("second response after %v: the loop blocked", last)
				}
			}
		})
	}
}

// TestDelayOrder checks that input arriving while a batch is held waits
// for it: responses keep their order, each batch its delay.
func TestDelayOrder(t *testing.T) {
	testnet.NoLeaks(t)
	const delay = 200 * time.Millisecond
	cfg := config()
	cfg.Delay, cfg.DelayMode = delay, serve.DelayTimer
	s := start(t, cfg)
	c := testnet.Dial(t, s.Addr())
	began := time.Now()
	testnet.Send(t, c, get+"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(delay / 4)
	testnet.Send(t, c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	want := append(append([]byte{}, proto.OK...), proto.OK[:len(proto.OK)-len(proto.Body)]...)
	testnet.Expect(t, c, append(want, proto.OKClose...), 5*time.Second)
	if d := time.Since(began); d < 2*delay*9/10 {
		t.Fatalf("two batches answered after %v, under two delays", d)
	}
	testnet.ExpectEOF(t, c, 5*time.Second)
}

func TestIdleTimeout(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.IdleTimeout = 300 * time.Millisecond
	s := start(t, cfg)
	idle, busy := testnet.Dial(t, s.Addr()), testnet.Dial(t, s.Addr())
	testnet.Send(t, idle, get)
	testnet.Expect(t, idle, proto.OK, 5*time.Second)
	began := time.Now()
	// The busy connection sends a request every 100 ms and stays open.
	for time.Since(began) < 700*time.Millisecond {
		testnet.Send(t, busy, get)
		testnet.Expect(t, busy, proto.OK, 5*time.Second)
		time.Sleep(100 * time.Millisecond)
	}
	testnet.ExpectEOF(t, idle, 5*time.Second)
	if d := time.Since(began); d < 200*time.Millisecond {
		t.Fatalf("idle connection closed after %v", d)
	}
	testnet.Send(t, busy, get)
	testnet.Expect(t, busy, proto.OK, 5*time.Second)
}

// TestHeaderTimeout sends a head one byte every 100 ms: it gets 408 in the
// error form once the head is older than the timeout, though bytes keep
// coming.
func TestHeaderTimeout(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.HeaderTimeout = 400 * time.Millisecond
	s := start(t, cfg)
	c := testnet.Dial(t, s.Addr())
	testnet.Send(t, c, get)
	testnet.Expect(t, c, proto.OK, 5*time.Second)
	began := time.Now()
	go func() {
		for i := 0; i < 40; i++ {
			if _, err := c.Write([]byte(get[i%len(get) : i%len(get)+1])); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	testnet.Expect(t, c, proto.RequestTimeout, 5*time.Second)
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Fatalf("408 after %v", d)
	}
	testnet.ExpectEOF(t, c, 5*time.Second)
}

func TestMaxConns(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.MaxConns = 2
	s := start(t, cfg)
	a, b := testnet.Dial(t, s.Addr()), testnet.Dial(t, s.Addr())
	for _, c := range []net.Conn{a, b} {
		testnet.Send(t, c, get)
		testnet.Expect(t, c, proto.OK, 5*time.Second)
	}
	over := testnet.Dial(t, s.Addr())
	testnet.Expect(t, over, proto.ServiceUnavailable, 5*time.Second)
	testnet.ExpectEOF(t, over, 5*time.Second)
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.h.open.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c := testnet.Dial(t, s.Addr())
	testnet.Send(t, c, get)
	testnet.Expect(t, c, proto.OK, 5*time.Second)
	testnet.Send(t, b, get)
	testnet.Expect(t, b, proto.OK, 5*time.Second)
}

// TestShutdown shuts a server down with an idle connection, one in the
// middle of a head, and delayed responses in flight on both kinds of delay:
// the responses arrive whole, every connection ends, and nothing leaks.
func TestShutdown(t *testing.T) {
	for _, mode := range []string{serve.DelayBlock, serve.DelayTimer} {
		t.Run(mode, func(t *testing.T) {
			testnet.NoLeaks(t)
			cfg := config()
			cfg.Loops = 2
			cfg.Delay, cfg.DelayMode = 300*time.Millisecond, mode
			s, err := Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			idle, partial, busy := testnet.Dial(t, s.Addr()), testnet.Dial(t, s.Addr()), testnet.Dial(t, s.Addr())
			testnet.Send(t, partial, get[:5])
			testnet.ShutdownMidBatch(t, s, busy, strings.Repeat(get, 3), bytes.Repeat(proto.OK, 3), idle, partial)
		})
	}
}

// TestLoops starts several loops on port 0: each has its own listener, all
// on the one port, and all serve.
func TestLoops(t *testing.T) {
	testnet.NoLeaks(t)
	cfg := config()
	cfg.Loops = 4
	s := start(t, cfg)
	_, port, _ := net.SplitHostPort(s.Addr())
	listeners := 0
	for _, fd := range socketFDs(t, port) {
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v == 1 {
			listeners++
		}
	}
	if listeners != cfg.Loops {
		t.Fatalf("%d listeners on port %s, want %d", listeners, port, cfg.Loops)
	}
	for i := 0; i < 32; i++ {
		c := testnet.Dial(t, s.Addr())
		testnet.Send(t, c, get)
		testnet.Expect(t, c, proto.OK, 5*time.Second)
	}
}

// TestNoDelay checks TCP_NODELAY on the server's side of a connection, found
// among this process's fds.
func TestNoDelay(t *testing.T) {
	s := start(t, config())
	c := testnet.Dial(t, s.Addr())
	testnet.Send(t, c, get)
	testnet.Expect(t, c, proto.OK, 5*time.Second)
	_, port, _ := net.SplitHostPort(s.Addr())
	accepted := 0
	for _, fd := range socketFDs(t, port) {
		if v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v == 1 {
			continue
		}
		accepted++
		if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v != 1 {
			t.Fatalf("TCP_NODELAY on fd %d: %d, %v", fd, v, err)
		}
	}
	if accepted != 1 {
		t.Fatalf("found %d accepted sockets, want 1", accepted)
	}
}

// socketFDs lists this process's TCP sockets whose local port is port.
func socketFDs(t *testing.T, port string) []int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, p, err := serve.SockAddr(fd); err == nil && strconv.Itoa(p) == port {
			if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err == nil && typ == unix.SOCK_STREAM {
				fds = append(fds, fd)
			}
		}
	}
	return fds
}

// TestNeverReads pipelines requests without reading: the server stops
// serving the connection once its unsent responses pass the bound, drops it
// once the unread requests pass theirs, and serves others all along.
func TestNeverReads(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	hog := testnet.Dial(t, s.Addr())
	hog.SetReadBuffer(4 << 10)
	other := testnet.Dial(t, s.Addr())
	chunk := []byte(strings.Repeat(get, 1000))
	hog.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var sent int
	for sent < 200<<20 {
		n, err := hog.Write(chunk)
		sent += n
		if err != nil {
			break
		}
		if sent%(4<<20) < len(chunk) {
			testnet.Send(t, other, get)
			testnet.Expect(t, other, proto.OK, 5*time.Second)
		}
	}
	if sent >= 200<<20 {
		t.Fatalf("the server took %d MiB of requests without reading responses", sent>>20)
	}
	testnet.Send(t, other, get)
	testnet.Expect(t, other, proto.OK, 5*time.Second)
	hog.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, hog); err != nil && !isReset(err) {
		t.Fatalf("reading the dropped connection: %v", err)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe"))
}

// TestStartError starts on a port held by a listener without SO_REUSEPORT.
func TestStartError(t *testing.T) {
	testnet.NoLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := config()
	cfg.Addr = ln.Addr().String()
	if s, err := Start(cfg); err == nil {
		s.Shutdown(context.Background())
		t.Fatal("started on a port in use")
	}
}
