package load

import (
	"testing"
	"time"
)

// TestOpenLoopShowsStall runs the same server, which stalls every response
// once for 200ms, in closed and open loop. Closed loop, the stall delays
// only the few requests in flight when it began, and the client then waits
// politely: the median stays small. Open loop, every request that was due
// during the stall counts its wait from its intended send time, so the
// stall shows in p99.9 and max.
func TestOpenLoopShowsStall(t *testing.T) {
	const d = 200 * time.Millisecond
	open := run(t, Config{
		Addr:     startServer(t, serveCorrect((&stall{at: 400 * time.Millisecond, d: d}).wait)),
		Conns:    10,
		Threads:  1,
		Rate:     2000,
		Duration: 1200 * time.Millisecond,
	})
	if open.Errors != 0 || open.Requests == 0 {
		t.Fatalf("open loop: requests %d errors %d", open.Requests, open.Errors)
	}
	if p := open.Quantile(0.999); p < d*3/4 {
		t.Errorf("open loop p99.9 %v hides the %v stall", p, d)
	}
	if m := open.Max(); m < d*9/10 {
		t.Errorf("open loop max %v hides the %v stall", m, d)
	}
	// About 2000 requests/s were asked for and the server kept up outside
	// the stall: the schedule was followed, not the server's pace.
	if want := int64(2000 * 1.2); open.Requests < want/2 || open.Requests > want*11/10 {
		t.Errorf("open loop sent %d requests; the schedule asks for about %d", open.Requests, want)
	}

	closed := run(t, Config{
		Addr:     startServer(t, serveCorrect((&stall{at: 400 * time.Millisecond, d: d}).wait)),
		Conns:    10,
		Threads:  1,
		Duration: 1200 * time.Millisecond,
	})
	if closed.Errors != 0 || closed.Requests == 0 {
		t.Fatalf("closed loop: requests %d errors %d", closed.Requests, closed.Errors)
	}
	if p := closed.Quantile(0.5); p > 50*time.Millisecond {
		t.Errorf("closed loop p50 %v: the single stall should not reach the median", p)
	}
	if m := closed.Max(); m < d*3/4 {
		t.Errorf("closed loop max %v: the requests in flight during the stall waited for it", m)
	}
}
