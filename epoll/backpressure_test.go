package epoll

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

// A client that pipelines far past the bound of unsent bytes (and past the
// kernel's socket buffers) and reads its responses slowly but steadily gets
// every one of them. Meanwhile the loop stops reading it, for longer than
// the header timeout at a time, with half a request head kept: the header
// timeout must not run while the server is not reading.
func TestBackpressureSlowReader(t *testing.T) {
	triggers(t, func(t *testing.T, cfg serve.Config) {
		cfg.HeaderTimeout = 100 * time.Millisecond
		// Progress is seen when the loop writes, and the kernel takes a
		// write only once half its send buffer (up to 4 MiB) is free again:
		// the idle timeout must cover that at the client's pace.
		cfg.IdleTimeout = 3 * time.Second
		s := start(t, cfg)
		c := dial(t, s)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		const n = (2 << 20) / len(get)
		go io.WriteString(c, strings.Repeat(get, n))
		readSlowly(t, c, n, 20*time.Millisecond)
	})
}

// readSlowly reads n responses from c, at most 64 KiB every pause, and
// requires each to be proto.OK.
func readSlowly(t *testing.T, c *net.TCPConn, n int, pause time.Duration) {
	t.Helper()
	want := bytes.Repeat(proto.OK, n)
	got := make([]byte, 0, len(want))
	buf := make([]byte, 64<<10)
	for len(got) < len(want) {
		time.Sleep(pause)
		k, err := c.Read(buf[:min(len(buf), len(want)-len(got))])
		got = append(got, buf[:k]...)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v (a 408 among them: %v)", len(got), len(want), err, bytes.Contains(got, proto.RequestTimeout))
		}
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("response bytes differ from byte %d (response %d of %d): %q", i, i/len(proto.OK), n, got[i:min(len(got), i+40)])
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// A client that pipelines and never reads is closed once its pending
// responses have made no progress for the idle timeout, whatever the header
// timeout says, as nginx's send_timeout does.
func TestBackpressureNeverReads(t *testing.T) {
	triggers(t, func(t *testing.T, cfg serve.Config) {
		cfg.HeaderTimeout = time.Minute
		cfg.IdleTimeout = 300 * time.Millisecond
		s := start(t, cfg)
		hog := dial(t, s)
		hog.SetReadBuffer(4096)
		hog.SetWriteDeadline(time.Now().Add(time.Second))
		io.Copy(hog, io.LimitReader(endless{}, offered))
		deadline := time.Now().Add(5 * time.Second)
		for s.conns.Load() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("a client that never reads still held after 5 s with -idle-timeout %v", cfg.IdleTimeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// triggers runs f on one loop in each trigger mode: enough where the
// accept mode plays no part.
func triggers(t *testing.T, f func(t *testing.T, cfg serve.Config)) {
	for _, trigger := range []string{serve.TriggerLevel, serve.TriggerEdge} {
		t.Run(trigger, func(t *testing.T) {
			cfg := testConfig()
			cfg.Trigger = trigger
			f(t, cfg)
		})
	}
}

// A pipelined batch that ends in a closing request, behind more responses
// than the kernel buffers, keeps every response when its client pauses for
// longer than proto.DrainTimeout after the server has read the batch, then
// reads: the drain timer starts once the closing answer is out, not when
// its request was read, and the connection then ends with an EOF.
func TestBackpressureCloseAfterPause(t *testing.T) {
	triggers(t, func(t *testing.T, cfg serve.Config) {
		cfg.IdleTimeout = 10 * time.Second
		s := start(t, cfg)
		c := dial(t, s)
		c.SetReadBuffer(64 << 10)
		// 2 MiB of requests: their 4.9 MB of responses overflow the kernel's
		// buffers and the server's bound of unsent bytes.
		const n = (2 << 20) / len(get)
		closing := "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
		sent := make(chan error, 1)
		go func() {
			_, err := io.WriteString(c, strings.Repeat(get, n)+closing)
			sent <- err
		}()
		// Read only as much as the server needs to read the closing
		// request: it stops reading while backed up, and resumes with
		// nearly its bound of responses still queued.
		var got []byte
		buf := make([]byte, 64<<10)
		for written := false; ; {
			if !written {
				select {
				case err := <-sent:
					if err != nil {
						t.Fatalf("write: %v", err)
					}
					written = true
				default:
				}
			}
			if written && testnet.WaitRead(s.Addr(), []*net.TCPConn{c}, 50*time.Millisecond) == nil {
				break
			}
			k, err := c.Read(buf)
			if got = append(got, buf[:k]...); err != nil {
				t.Fatalf("after %d bytes: %v", len(got), err)
			}
		}
		t.Logf("the server read the closing request once the client had read %d bytes", len(got))
		time.Sleep(proto.DrainTimeout + time.Second)
		rest, err := io.ReadAll(c)
		got = append(got, rest...)
		want := append(bytes.Repeat(proto.OK, n), proto.OKClose...)
		if i := firstDiff(got, want); i >= 0 || err != nil {
			t.Fatalf("got %d of %d bytes, then %v; they differ from byte %d (response %d of %d)", len(got), len(want), err, i, i/len(proto.OK), n+1)
		}
	})
}

// A client that pipelines far past what the server and the kernel buffer,
// ending in an incomplete head, and reads its responses slowly but
// steadily, gets every one of them and then the answer to the head it
// completes: the header timer does not expire while responses the server
// has handed to the kernel still wait for the client.
func TestBackpressureHeadAfterSlowRead(t *testing.T) {
	triggers(t, func(t *testing.T, cfg serve.Config) {
		cfg.HeaderTimeout = 500 * time.Millisecond
		cfg.IdleTimeout = 3 * time.Second
		s := start(t, cfg)
		c := dial(t, s)
		c.SetReadBuffer(64 << 10)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		// 2 MiB of requests, 4.9 MB of responses: read at 64 KiB every
		// 50 ms, the last 4 MB the kernel holds take about 3 s, several
		// header timeouts after the server has handed over its last byte.
		const n = (2 << 20) / len(get)
		go io.WriteString(c, strings.Repeat(get, n)+"GET / HTTP/1.1\r\nHo")
		readSlowly(t, c, n, 50*time.Millisecond)
		testnet.Send(t, c, "st: a\r\n\r\n")
		testnet.Expect(t, c, proto.OK, wait)
	})
}
