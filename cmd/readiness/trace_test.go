package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/trace"
)

// needStrace skips without strace, except under CI, which must run it.
func needStrace(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("strace"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("strace is missing under CI: install it (apt-get install strace)")
		}
		t.Skip("strace is not installed (apt-get install strace)")
	}
}

func TestTraceAll(t *testing.T) {
	needStrace(t)
	stdout, stderr, code := readiness(t, nil, 60*time.Second, "trace", "all", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out struct {
		Command string            `json:"command"`
		Models  []*trace.Sequence `json:"models"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(out.Models) != len(models) {
		t.Fatalf("%d models traced, want %d", len(out.Models), len(models))
	}
	for _, seq := range out.Models {
		c := seq.Counts
		if c["accept4"] < 2 || c["read"] < 3 || c["write"]+c["sendto"] < 3 {
			t.Errorf("%s: counts %v: want two accepts and three requests", seq.Model, c)
		}
		if c["epoll_wait"]+c["epoll_pwait"] == 0 {
			t.Errorf("%s: no epoll wait in %v", seq.Model, c)
		}
		notes := ""
		for _, s := range seq.Script {
			notes += s.Text + " " + s.Note + "\n"
		}
		if !strings.Contains(notes, "client: ") && !strings.Contains(notes, "connects conn#1") {
			t.Errorf("%s: the client's steps are missing:\n%s", seq.Model, notes)
		}
		if seq.Model == "std" {
			for _, want := range []string{"inferred: FD.Read calls pollDesc.waitRead", "inferred: the parked goroutine runs again", "netpoll reports conn#1 readable"} {
				if !strings.Contains(notes, want) {
					t.Errorf("std: the sequence lacks %q:\n%s", want, notes)
				}
			}
		}
		// The JSON says which notes carry a deduction, as their text does.
		kinds := map[bool]int{}
		for _, s := range append(seq.Setup, seq.Script...) {
			if s.Note == "" {
				continue
			}
			kinds[s.Inferred]++
			if s.Inferred != strings.Contains(s.Note, trace.InferredMark) {
				t.Errorf("%s: %s %q: \"inferred\" is %v", seq.Model, s.Text, s.Note, s.Inferred)
			}
		}
		if kinds[true] == 0 || kinds[false] == 0 {
			t.Errorf("%s: notes inferred/observed %d/%d: want both kinds", seq.Model, kinds[true], kinds[false])
		}
	}
}

func TestTraceText(t *testing.T) {
	needStrace(t)
	stdout, stderr, code := readiness(t, nil, 30*time.Second, "trace", "std")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"sysmon", "---- client: connects conn#1", "= -1 EAGAIN", "inferred: FD.Read calls pollDesc.waitRead, the goroutine parks (gopark)",
		"the words after \"inferred:\" are deduced", "(readiness journey std observes it)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestTraceWithoutStrace(t *testing.T) {
	_, stderr, code := readiness(t, []string{"PATH=" + t.TempDir()}, 10*time.Second, "trace", "std")
	if code == 0 || !strings.Contains(stderr, "apt-get install strace") {
		t.Errorf("exit %d, stderr %q: want a failure saying how to install strace", code, stderr)
	}
}

func TestTraceArguments(t *testing.T) {
	for _, args := range [][]string{{"trace"}, {"trace", "nosuch"}, {"trace", "std", "epoll"}, {"trace", "-bogus", "std"}} {
		if _, stderr, code := readiness(t, nil, 10*time.Second, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q: want 2 and a message", args, code, stderr)
		}
	}
	stdout, _, code := readiness(t, nil, 10*time.Second, "trace", "-h")
	if code != 0 || !strings.Contains(stdout, "Usage: readiness trace") || !strings.Contains(stdout, "-markdown") {
		t.Errorf("-h: exit %d:\n%s", code, stdout)
	}
}
