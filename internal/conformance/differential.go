package conformance

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// SeedEnv names the environment variable that fixes the differential test's
// seed, to replay a failure; without it the seed comes from the clock.
const SeedEnv = "DIFFERENTIAL_SEED"

// Differential limits: the number of streams, the time they may take in all
// (streams not started by then are left out, and the log says so), and how
// many disagreements are reported before the test stops.
const (
	diffStreams  = 300
	diffBudget   = 40 * time.Second
	diffFailures = 3
	// diffQuiet is how long a connection the client has not half-closed
	// must stay silent, once everything is sent, to count as open.
	diffQuiet = 200 * time.Millisecond
	// diffRude bounds a reset no server may send. A server ends every
	// connection it closes with a half-close and a drain that lasts until
	// the client closes or for 1 s, and the client here reads to the end
	// and closes at once: a reset seen sooner than this after the first
	// write means the server closed with bytes unread, which can destroy
	// answers a slower client has not read.
	diffRude = 800 * time.Millisecond
)

// played is what one model answered to one stream.
type played struct {
	got  []byte
	end  end
	took time.Duration // from the first write to the end
	err  error         // the stream could not be played (dial failed)
}

func (p played) same(q played) bool {
	return p.err == nil && q.err == nil && bytes.Equal(p.got, q.got) && p.end.Closed() == q.end.Closed()
}

// rude reports a reset within diffRude.
func (p played) rude() bool { return p.end == endReset && p.took < diffRude }

// Differential sends the same random byte streams (valid requests of every
// shape mixed with invalid ones, cut into the same writes) to every model
// and requires from each the same response bytes and the same ending: the
// connection closed by the server, or still open. The seed is logged, and
// printed with any disagreement; SeedEnv replays it.
func Differential(t *testing.T, models []Model) {
	if len(models) < 2 {
		t.Fatalf("differential: %d models, want at least 2", len(models))
	}
	warmNetpoll(t)
	watchLeaks(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(SeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, v, err)
		}
	}
	t.Logf("seed %d (%s=%d replays it)", seed, SeedEnv, seed)

	targets := make([]*target, len(models))
	workers := 4
	for i, m := range models {
		targets[i] = start(t, m, baseConfig(m))
		if m.Serial {
			// One connection at a time: streams to it must not queue up
			// behind each other, or a waiting one would look silent.
			workers = 1
		}
	}

	var (
		next, ran, failures atomic.Int64
		wg                  sync.WaitGroup
		budget              = time.Now().Add(diffBudget)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failures.Load() < diffFailures && time.Now().Before(budget) {
				i := next.Add(1) - 1
				if i >= diffStreams {
					return
				}
				st := newStream(rand.New(rand.NewPCG(seed, uint64(i))))
				rs := playAll(targets, st, diffQuiet)
				if !agree(rs) && !st.halfClose && !slices.ContainsFunc(rs, played.rude) {
					// The client judged "open" by a quiet moment, which a
					// loaded machine can cut short: replay once, patiently.
					rs = playAll(targets, st, 5*diffQuiet)
				}
				if !agree(rs) {
					failures.Add(1)
					t.Errorf("differential: the models disagree on stream %d, or one reset it (seed %d; %s=%d replays it)\n%s\n%s",
						i, seed, SeedEnv, seed, st, describe(models, rs))
				}
				ran.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := ran.Load(); n < diffStreams && failures.Load() == 0 {
		t.Logf("ran %d of %d streams within %v", n, diffStreams, diffBudget)
	}
}

// playAll plays st against every target at once.
func playAll(targets []*target, st stream, quiet time.Duration) []played {
	rs := make([]played, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs[i] = play(tg.addr, st, quiet)
		}()
	}
	wg.Wait()
	return rs
}

// agree reports whether every model answered alike and none reset rudely.
func agree(rs []played) bool {
	for _, r := range rs {
		if !r.same(rs[0]) || r.rude() {
			return false
		}
	}
	return true
}

// describe tells what each model answered, against the first model.
func describe(models []Model, rs []played) string {
	var b strings.Builder
	for i, r := range rs {
		if r.err != nil {
			fmt.Fprintf(&b, "%s: %v\n", models[i].Name, r.err)
			continue
		}
		fmt.Fprintf(&b, "%s: %d bytes, then %s after %v\n", models[i].Name, len(r.got), r.end, r.took.Round(time.Millisecond))
		if r.rude() {
			fmt.Fprintf(&b, "  a reset within %v: the server closed with bytes unread instead of draining\n", diffRude)
		}
		if i > 0 && !bytes.Equal(r.got, rs[0].got) {
			fmt.Fprintf(&b, "  against %s: %s\n", models[0].Name, mismatch(r.got, string(rs[0].got)))
		}
	}
	return b.String()
}

// play sends st to addr on a fresh connection while reading everything the
// server answers, until the server ends the connection or, once all is
// sent, nothing arrives for quiet (or, after a half-close, for ioTimeout).
func play(addr string, st stream, quiet time.Duration) played {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return played{err: err}
	}
	tc := c.(*net.TCPConn)
	begin := time.Now()

	var sent atomic.Int64 // when the writer finished, in UnixNano; 0 before
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, w := range st.writes() {
			if i > 0 && len(st.pauses) > 0 {
				time.Sleep(st.pauses[min(i-1, len(st.pauses)-1)])
			}
			tc.SetWriteDeadline(time.Now().Add(ioTimeout))
			// A failed write means the server ended the connection: what
			// was not sent could not have been answered anyway.
			if _, err := io.WriteString(tc, w); err != nil {
				break
			}
		}
		if st.halfClose {
			tc.CloseWrite()
		}
		sent.Store(time.Now().UnixNano())
	}()
	defer func() {
		// Closing ends a write the server is no longer reading.
		c.Close()
		<-done
	}()

	var got []byte
	for {
		more, e := netcheck.ReadAll(tc, quiet)
		got = append(got, more...)
		if e != endTimeout {
			return played{got: got, end: e, took: time.Since(begin)}
		}
		at := sent.Load()
		switch {
		case at == 0:
			// Still sending: the server may be waiting for the rest.
		case !st.halfClose && time.Since(time.Unix(0, at)) >= quiet:
			return played{got: got, end: endTimeout, took: time.Since(begin)}
		case time.Since(time.Unix(0, at)) >= ioTimeout:
			return played{got: got, end: endTimeout, took: time.Since(begin)}
		}
	}
}
