package compare

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/readinesslab/readiness/internal/child"
)

func TestMemStatsRoundTrip(t *testing.T) {
	m := runtime.MemStats{Mallocs: 12, Frees: 3, TotalAlloc: 4096, NumGC: 2}
	line := FormatMemStats(&m)
	procs := runtime.GOMAXPROCS(0)
	if want := fmt.Sprintf("memstats mallocs=12 frees=3 total_alloc=4096 num_gc=2 gomaxprocs=%d", procs); line != want {
		t.Errorf("line %q, want %q", line, want)
	}
	got, ok := ParseMemStats(line + "\n")
	if !ok || got != (MemStats{Mallocs: 12, Frees: 3, TotalAlloc: 4096, NumGC: 2, GOMAXPROCS: uint64(procs)}) {
		t.Errorf("ParseMemStats = %+v, %v", got, ok)
	}
	// gomaxprocs is optional: a line without it still parses.
	if got, ok := ParseMemStats("memstats mallocs=1 frees=2 total_alloc=3 num_gc=4"); !ok || got.GOMAXPROCS != 0 || got.NumGC != 4 {
		t.Errorf("line without gomaxprocs: %+v, %v", got, ok)
	}
	for _, bad := range []string{"", "memstats", "memstats mallocs=1 frees=2 num_gc=3", "memstats mallocs=x frees=2 total_alloc=1 num_gc=3", "epoll listening on 127.0.0.1:1"} {
		if _, ok := ParseMemStats(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// A server's stderr, split at any point, yields its memstats lines on the
// channel and everything else in the rest.
func TestLinesSplitsStderr(t *testing.T) {
	text := "starting\nmemstats mallocs=1 frees=0 total_alloc=16 num_gc=0\nsomething went wrong\nmemstats mallocs=5 frees=1 total_alloc=80 num_gc=1\nlast"
	for cut := range len(text) {
		ch := make(chan MemStats, 4)
		rest := &child.SyncBuffer{}
		l := &lines{memStats: ch, rest: rest}
		l.Write([]byte(text[:cut]))
		l.Write([]byte(text[cut:]))
		l.Write([]byte("\n"))
		if len(ch) != 2 {
			t.Fatalf("cut %d: %d memstats lines", cut, len(ch))
		}
		if a, b := <-ch, <-ch; a.Mallocs != 1 || b.Mallocs != 5 || b.NumGC != 1 {
			t.Fatalf("cut %d: %+v %+v", cut, a, b)
		}
		if got := rest.String(); got != "starting\nsomething went wrong\nlast\n" {
			t.Fatalf("cut %d: rest %q", cut, got)
		}
	}
	// More answers than anyone waits for are dropped, never blocking.
	ch := make(chan MemStats, 1)
	l := &lines{memStats: ch, rest: io.Discard}
	l.Write([]byte(strings.Repeat("memstats mallocs=1 frees=0 total_alloc=16 num_gc=0\n", 3)))
	if len(ch) != 1 {
		t.Errorf("%d answers queued", len(ch))
	}
}
