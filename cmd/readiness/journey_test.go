package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/journey"
)

// needPerf skips without root and perf, except under CI, which must run
// the journeys.
func needPerf(t *testing.T, veth bool) {
	t.Helper()
	err := journey.Check()
	if err == nil && veth {
		if _, lerr := exec.LookPath("ip"); lerr != nil {
			err = lerr
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("journey cannot run under CI: %v", err)
		}
		t.Skipf("journey needs root and perf here: %v", err)
	}
}

// nothingLeft fails if a probe of this binary's journeys or a namespace of
// its making is still there.
func nothingLeft(t *testing.T) {
	t.Helper()
	out, err := exec.Command("perf", "probe", "-l").CombinedOutput()
	if err != nil {
		t.Errorf("perf probe -l: %v: %s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "readiness") {
			t.Errorf("a probe is left behind: %s", l)
		}
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "readiness-") {
				t.Errorf("a namespace is left behind: %s", l)
			}
		}
	}
}

func journeyJSON(t *testing.T, args ...string) []journey.Result {
	t.Helper()
	stdout, stderr, code := readiness(t, nil, 90*time.Second, append([]string{"journey", "-json"}, args...)...)
	nothingLeft(t)
	if code != 0 {
		t.Fatalf("readiness journey %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	var out struct {
		Models []journey.Result `json:"models"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("the JSON does not parse: %v", err)
	}
	return out.Models
}

// keyPath checks the order of a request's key events; the second request
// comes after the pause, when every server thread sleeps, the first may
// find the thread that accepted still running.
func keyPath(t *testing.T, r journey.Result) {
	t.Helper()
	steps, err := journey.KeyPath(r, 2)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	for _, s := range steps {
		e := r.Events[s.Index]
		t.Logf("%s: %9.1f µs %-10s %-35s %s", r.Model, e.TUS, e.Role, s.What, e.Describe())
	}
}

func TestJourneyAll(t *testing.T) {
	needPerf(t, false)
	models := journeyJSON(t, "all")
	if len(models) != len(modelNames()) {
		t.Fatalf("%d models, want %d", len(models), len(modelNames()))
	}
	for _, r := range models {
		if r.Net != "lo" || len(r.Summary.Requests) != 2 {
			t.Errorf("%s: net %q, %d requests in the summary", r.Model, r.Net, len(r.Summary.Requests))
		}
		keyPath(t, r)
	}
}

func TestJourneyVeth(t *testing.T) {
	needPerf(t, true)
	models := journeyJSON(t, "-net", "veth", "std")
	if len(models) != 1 || models[0].Net != "veth" {
		t.Fatalf("got %+v", models)
	}
	keyPath(t, models[0])
}

func TestJourneyHerd(t *testing.T) {
	needPerf(t, false)
	per := map[string]float64{}
	for _, mode := range []string{"shared", "exclusive"} {
		models := journeyJSON(t, "-conns", "20", "-serve=-loops=4,-accept="+mode, "epoll")
		h := models[0].Summary.Herd
		if h == nil || h.Accepted != 20 {
			t.Fatalf("%s: %+v, want 20 connections accepted", mode, h)
		}
		per[mode] = h.WakeupsPer
		t.Logf("%s: %.2f loop wake-ups, %.2f epoll returns, %.2f accept4 calls per connection; %d empty, %d absorbed",
			mode, h.WakeupsPer, h.ReturnsPer, h.AcceptsPer, h.EmptyWakes, h.Absorbed)
	}
	if per["shared"] <= 1.5*per["exclusive"] {
		t.Errorf("shared woke %.2f loop threads per connection, exclusive %.2f: want clearly more", per["shared"], per["exclusive"])
	}
}

// TestJourneyInterrupted stops a veth journey with SIGINT while it
// records: it must exit, and leave neither probe nor namespace.
func TestJourneyInterrupted(t *testing.T) {
	needPerf(t, true)
	cmd := exec.Command(readinessBinary(t), "journey", "-net", "veth", "all")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("exit %d after SIGINT, want 130: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("no exit within 30 s of SIGINT")
	}
	nothingLeft(t)
}

func TestJourneyBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"journey"},
		{"journey", "nosuchmodel"},
		{"journey", "-net", "wifi", "std"},
		{"journey", "-conns", "-1", "std"},
		{"journey", "std", "epoll"},
	} {
		_, stderr, code := readiness(t, nil, 10*time.Second, args...)
		if code != 2 || !strings.Contains(stderr, "readiness journey") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}
