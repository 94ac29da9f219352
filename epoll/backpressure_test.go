package epoll

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
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
		want := bytes.Repeat(proto.OK, n)
		got := make([]byte, 0, len(want))
		buf := make([]byte, 64<<10)
		for len(got) < len(want) {
			time.Sleep(20 * time.Millisecond)
			k, err := c.Read(buf[:min(len(buf), len(want)-len(got))])
			got = append(got, buf[:k]...)
			if err != nil {
				t.Fatalf("after %d of %d bytes: %v (a 408 among them: %v)", len(got), len(want), err, bytes.Contains(got, proto.RequestTimeout))
			}
		}
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("response bytes differ from byte %d (response %d of %d): %q", i, i/len(proto.OK), n, got[i:min(len(got), i+40)])
		}
	})
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
