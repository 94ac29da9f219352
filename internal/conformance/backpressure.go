package conformance

import (
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/serve"
)

// The backpressure tests pipeline megabytes of requests to a client that
// reads slowly or not at all. The client's receive buffer is kept small so
// that the server's writes, not the client's kernel, hold what is unread.
const (
	smallRcvBuf = 64 << 10
	// flowIdle and flowHeader are the timeouts the tests start servers with.
	flowIdle   = 2 * time.Second
	flowHeader = 2 * time.Second
	// flowBound bounds every wait: reaching it means the server is stuck.
	flowBound = 30 * time.Second
)

func backpressureTests() []test {
	return []test{
		{name: "no progress closes", configure: withFlowIdle, run: func(t *testing.T, s *target) {
			testNoProgressCloses(t, s, 4<<20)
		}},
		{name: "no progress closes, fewer responses", configure: withFlowIdle, run: func(t *testing.T, s *target) {
			testNoProgressCloses(t, s, 2<<20)
		}},
		{name: "slow steady reader keeps every response", configure: withFlowIdle, run: testSteadyReader},
		{name: "header timer stopped while backed up", configure: withFlowHeader, run: func(t *testing.T, s *target) {
			testHeaderTimerPaused(t, s, 0)
		}},
		{name: "header timer stopped while backed up, pause midway", configure: withFlowHeader, run: func(t *testing.T, s *target) {
			testHeaderTimerPaused(t, s, 1<<20)
		}},
	}
}

func withFlowIdle(cfg *serve.Config) { cfg.IdleTimeout, cfg.HeaderTimeout = flowIdle, 0 }

func withFlowHeader(cfg *serve.Config) { cfg.IdleTimeout, cfg.HeaderTimeout = 0, flowHeader }

// dialSmall connects with a small receive buffer, set before the handshake
// so that the window the server sees is small from the start.
func (s *target) dialSmall(t testing.TB) *client {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, smallRcvBuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", s.addr)
	if err != nil {
		t.Fatalf("dial %s: %v", s.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c.(*net.TCPConn)}
}

// tcpState is the kernel's TCP state of the client's socket (unix.BPF_TCP_*
// numbering: 1 established, 7 closed by a reset, 8 close-wait after a FIN).
func (c *client) tcpState() uint8 {
	rc, err := c.c.SyscallConn()
	if err != nil {
		return 0
	}
	var st uint8
	rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			st = info.State
		}
	})
	return st
}

// pipeline writes data from a goroutine, then one more request every 100 ms
// until stop is closed or a write fails: once the server has closed, a
// write draws a reset, so the close shows even when the server's FIN waits
// behind responses the client never read. The returned channel is closed
// when the goroutine ends.
func (c *client) pipeline(data string, trickle bool, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		rest := data
		for len(rest) > 0 {
			select {
			case <-stop:
				return
			default:
			}
			c.c.SetWriteDeadline(time.Now().Add(time.Second))
			n, err := c.c.Write([]byte(rest[:min(len(rest), 64<<10)]))
			rest = rest[n:]
			if err != nil && classify(err) != endTimeout {
				return
			}
		}
		for trickle {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			c.c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.c.Write([]byte(get)); err != nil && classify(err) != endTimeout {
				return
			}
		}
	}()
	return done
}

// testNoProgressCloses: a client that pipelines size bytes of requests and
// reads nothing is closed once its responses have made no progress for the
// idle timeout, as nginx's send_timeout does, even while it keeps sending.
// The responses to 2 MiB of requests (4.9 MB) overflow what the kernel
// buffers on loopback (at most 4 MiB of send buffer here, and the client's
// small receive buffer), so they back up in the server. The bound is
// generous: this checks that the close happens, not how fast; a server may
// also close sooner, when what it buffers for the client passes its limit.
func testNoProgressCloses(t *testing.T, s *target, size int) {
	const bound = 15 * time.Second
	c := s.dialSmall(t)
	stop := make(chan struct{})
	began := time.Now()
	done := c.pipeline(strings.Repeat(get, size/len(get)), true, stop)
	defer func() {
		close(stop)
		c.c.Close()
		<-done
	}()
	for {
		if st := c.tcpState(); st != unix.BPF_TCP_ESTABLISHED {
			t.Logf("closed after %v (TCP state %d)", time.Since(began).Round(time.Millisecond), st)
			return
		}
		if time.Since(began) > bound {
			t.Fatalf("a client that reads nothing is still connected after %v; want it closed after about %v without progress", bound, flowIdle)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readPaced reads n bytes, at most chunk of them every every, for at most
// flowBound in all.
func (c *client) readPaced(n, chunk int, every time.Duration) ([]byte, end) {
	got := make([]byte, 0, n)
	buf := make([]byte, chunk)
	limit := time.Now().Add(flowBound)
	for len(got) < n {
		tick := time.Now().Add(every)
		for want := min(chunk, n-len(got)); want > 0; {
			dl := tick
			if limit.Before(dl) {
				dl = limit
			}
			c.c.SetReadDeadline(dl)
			m, err := c.c.Read(buf[:want])
			got, want = append(got, buf[:m]...), want-m
			if e := classify(err); err != nil && (e != endTimeout || time.Now().After(limit)) {
				return got, e
			} else if err != nil {
				break
			}
		}
		time.Sleep(time.Until(tick))
	}
	return got, endTimeout
}

// expectAll requires got to be n copies of resp.
func expectAll(t *testing.T, got []byte, e end, resp string, n int) {
	t.Helper()
	if want := strings.Repeat(resp, n); string(got) != want {
		t.Fatalf("got %d of %d responses (%d bytes), then %s:\n%s", len(got)/len(resp), n, len(got), e, mismatch(got, want))
	}
}

// testSteadyReader: a client that pipelines a megabyte of requests and
// reads its responses slowly but steadily, for longer than the idle
// timeout, gets every one of them.
func testSteadyReader(t *testing.T, s *target) {
	c := s.dialSmall(t)
	n := (1 << 20) / len(get)
	stop := make(chan struct{})
	done := c.pipeline(strings.Repeat(get, n), false, stop)
	defer func() {
		close(stop)
		<-done
	}()
	began := time.Now()
	// 128 KiB every 250 ms: over 4 s for the 2.3 MiB of responses.
	got, e := c.readPaced(n*len(ok), 128<<10, 250*time.Millisecond)
	expectAll(t, got, e, ok, n)
	if took := time.Since(began); took < flowIdle {
		t.Fatalf("read everything in %v, less than the %v idle timeout: the test proves nothing", took, flowIdle)
	}
}

// testHeaderTimerPaused: a client pipelines requests far past what the
// server buffers, ending in an incomplete head; it reads the first
// readFirst bytes of responses, then nothing for longer than the header
// timeout, then the rest. While the server has stopped reading because its
// responses are backed up, the header timer does not run: the client gets
// every response, completes the head, and gets its answer. A pause at the
// start comes before the server has framed the incomplete head; one after
// 1 MiB comes after (gnet frames it once its first backlog drains), while
// the 4.8 MB still unread are more than the kernel buffers, so the server
// is still backed up.
func testHeaderTimerPaused(t *testing.T, s *target, readFirst int) {
	c := s.dialSmall(t)
	n := (5 << 19) / len(get) // 2.5 MiB of requests, about 6 MiB of responses
	stop := make(chan struct{})
	done := c.pipeline(strings.Repeat(get, n)+"GET / HTTP/1.1\r\nHo", false, stop)
	defer func() {
		close(stop)
		<-done
	}()
	first, e := c.readAtLeast(readFirst, flowBound)
	if len(first) < readFirst {
		expectAll(t, first, e, ok, n)
	}
	time.Sleep(flowHeader + time.Second)
	rest, e := c.readAtLeast(n*len(ok)-len(first), flowBound)
	expectAll(t, append(first, rest...), e, ok, n)
	<-done
	c.send("st: a\r\n\r\n")
	c.expect(ok)
	if st := c.tcpState(); st != unix.BPF_TCP_ESTABLISHED {
		t.Fatalf("connection in TCP state %d after the last answer; want it open", st)
	}
}
