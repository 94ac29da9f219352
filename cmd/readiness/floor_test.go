package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
)

// The floor runs its ping-pong in both waits and reports per round trip
// what its server thread spent: at least one request answered, a context
// switch for each sleep, some CPU.
func TestFloor(t *testing.T) {
	if serve.AvailableCPUs() < 2 {
		t.Skip("the floor pins its client and server to two different CPUs; this machine gives the test one")
	}
	stdout, stderr, code := readiness(t, nil, time.Minute, "floor", "-d", "300ms", "-warmup", "50ms", "-runs", "1", "-json")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	var results []floorResult
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("-json output %q: %v", stdout, err)
	}
	if len(results) != len(floorWaits) {
		t.Fatalf("%d results, want one per wait (%v)", len(results), floorWaits)
	}
	for i, r := range results {
		if r.Wait != floorWaits[i] {
			t.Errorf("result %d is for wait %q, want %q", i, r.Wait, floorWaits[i])
		}
		// Every round trip makes the blocked server sleep and wake, so
		// it switches at least about once per round trip.
		if r.RoundTrips <= 0 || r.ServerCPUUs <= 0 || r.ClientCPUUs <= 0 || r.WallUs <= 0 || r.ServerCtxsw < 0.5 {
			t.Errorf("%s: implausible figures %+v", r.Wait, r)
		}
	}
}

func TestFloorBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-wait", "sideways"},
		{"-runs", "0"},
		{"-server-cpu", "0", "-client-cpu", "0"},
		{"-nope"},
	} {
		stdout, stderr, code := readiness(t, nil, time.Minute, append([]string{"floor"}, args...)...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "readiness floor: ") {
			t.Errorf("floor %q: exit %d, stdout %q, stderr %q; want exit 2 and a message", args, code, stdout, stderr)
		}
	}
}
