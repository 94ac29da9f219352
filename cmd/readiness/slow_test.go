package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/experiment"
)

func TestSlowPattern(t *testing.T) {
	const delay = 300 * time.Millisecond
	stdout, stderr, code := readiness(t, nil, 60*time.Second, "slow", "-delay", delay.String(), "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out struct {
		DelayS float64              `json:"delay_s"`
		Rows   []experiment.SlowRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(out.Rows) != len(slowTargets()) || len(out.Rows) != 6 {
		t.Fatalf("%d rows, want six:\n%s", len(out.Rows), stdout)
	}
	d := delay.Seconds()
	for _, r := range out.Rows {
		if r.First < 0.9*d {
			t.Errorf("%s: first response after %.3f s, before the %.1f s delay", r.Server, r.First, d)
		}
		// Generous ratios: the machine is shared and noisy.
		oneAfterOther := strings.HasSuffix(r.Server, "-serial") || strings.HasSuffix(r.Server, " block")
		switch {
		case oneAfterOther && r.Second < 1.7*d:
			t.Errorf("%s: second response after %.3f s, want a whole delay after the first (>= %.2f s)", r.Server, r.Second, 1.7*d)
		case !oneAfterOther && r.Second >= 1.5*d:
			t.Errorf("%s: second response after %.3f s, want both within about one delay (< %.2f s)", r.Server, r.Second, 1.5*d)
		}
		if oneAfterOther != strings.Contains(r.Why, "whole delay") {
			t.Errorf("%s: why %q does not match the measurement", r.Server, r.Why)
		}
		checkQueues(t, r)
	}
}

// checkQueues checks where the kernel held the requests half-way through
// the first delay: the serial server leaves the second connection in the
// listener's accept queue with its request unread; a blocked loop has
// accepted both and left one request unread; the others have read both.
func checkQueues(t *testing.T, r experiment.SlowRow) {
	t.Helper()
	q := r.Queues
	if q == nil {
		if r.QueuesNote == "" {
			t.Errorf("%s: no queue reading and no note saying why", r.Server)
		}
		return
	}
	wantBacklog, wantUnread := uint32(0), uint32(0)
	switch {
	case strings.HasSuffix(r.Server, "-serial"):
		wantBacklog, wantUnread = 1, uint32(len(experiment.SlowRequest))
	case strings.HasSuffix(r.Server, " block"):
		wantUnread = uint32(len(experiment.SlowRequest))
	}
	got := q.Unread[0] + q.Unread[1]
	if q.Backlog != wantBacklog || got != wantUnread || min(q.Unread[0], q.Unread[1]) != 0 {
		t.Errorf("%s: listener Recv-Q %d, unread %v; want %d not accepted and %d bytes unread on one connection",
			r.Server, q.Backlog, q.Unread, wantBacklog, wantUnread)
	}
}

func TestSlowTextAndArguments(t *testing.T) {
	stdout, stderr, code := readiness(t, nil, 30*time.Second, "slow", "-delay", "200ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"first_s", "second_s", "std -serial:", "epoll timer:", "gnet block:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, args := range [][]string{{"slow", "-delay", "0s"}, {"slow", "extra"}, {"slow", "-bogus"}} {
		if _, stderr, code := readiness(t, nil, 10*time.Second, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q: want 2 and a message", args, code, stderr)
		}
	}
}
