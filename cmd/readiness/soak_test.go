package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/soak"
)

func TestSoakAllModels(t *testing.T) {
	// Three seconds against every model at once. Its quarters are too
	// short to judge RSS (the allowance is opened wide; the criterion has
	// its own tests); everything else counts.
	stdout, stderr, code := readiness(t, nil, 60*time.Second, "soak", "-d", "3s", "-interval", "500ms",
		"-idle-timeout", "1s", "-header-timeout", "1s", "-churn-every", "500ms", "-churn", "8", "-idle", "2",
		"-rss-growth", "1024", "-json")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var out struct {
		Pass    bool `json:"pass"`
		Servers []struct {
			Model           string           `json:"model"`
			GoodRequests    int64            `json:"good_requests"`
			GoodErrors      int64            `json:"good_errors"`
			HostileByKind   map[string]int64 `json:"hostile_by_kind"`
			HostileFailures int64            `json:"hostile_failures"`
			FDBaseline      int              `json:"fd_baseline"`
			FDEnd           int              `json:"fd_end"`
			Samples         []struct {
				FDs int   `json:"fds"`
				RSS int64 `json:"rss_bytes"`
			} `json:"samples"`
		} `json:"servers"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if !out.Pass || len(out.Servers) != len(models) {
		t.Fatalf("pass %v, %d servers: want a pass for each of %d models\n%s", out.Pass, len(out.Servers), len(models), stdout)
	}
	for i, s := range out.Servers {
		if s.Model != models[i].name {
			t.Errorf("server %d is %q, want %q", i, s.Model, models[i].name)
		}
		if s.GoodRequests < 500 || s.GoodErrors != 0 || s.HostileFailures != 0 {
			t.Errorf("%s: good %d, errors %d, hostile failures %d", s.Model, s.GoodRequests, s.GoodErrors, s.HostileFailures)
		}
		for _, k := range []string{"reset", "unread", "invalid", "slow", "idle", "churn"} {
			if s.HostileByKind[k] == 0 {
				t.Errorf("%s: no %s operations: %v", s.Model, k, s.HostileByKind)
			}
		}
		if len(s.Samples) < 4 || s.FDEnd > s.FDBaseline || s.Samples[0].RSS <= 0 || s.Samples[0].FDs <= s.FDBaseline {
			t.Errorf("%s: fds %d -> %d, samples %+v: want readings under load and fds back", s.Model, s.FDBaseline, s.FDEnd, s.Samples)
		}
	}
	// The progress lines on stderr name every model with its figures.
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) < 4 {
		t.Fatalf("stderr: %q, want a line per reading", stderr)
	}
	for _, m := range models {
		if !strings.Contains(lines[0], "| "+m.name+" good ") || !strings.Contains(lines[0], " fds ") || !strings.Contains(lines[0], " rss ") {
			t.Errorf("progress line %q lacks %s", lines[0], m.name)
		}
	}
}

func TestSoakText(t *testing.T) {
	stdout, stderr, code := readiness(t, nil, 60*time.Second, "soak", "-d", "1s", "-interval", "250ms", "-models", "std",
		"-idle-timeout", "0", "-header-timeout", "0", "-rss-growth", "1024")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"soak of std for ", "server timeouts: idle off, header off", "good_reqs", "hostile operations by kind", "fds and RSS (MiB) over time", "settled", "\nPASS: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

func TestSoakExit(t *testing.T) {
	rep := &soak.Report{Servers: []soak.ServerReport{{Name: "epoll", Pass: true}, {Name: "std", Pass: true}}, Pass: true}
	if code := soakExit(rep); code != 0 {
		t.Errorf("a passing run exits %d", code)
	}
	rep.AddFailure("std", "shutdown: exit status 1")
	if code := soakExit(rep); code != 1 || rep.Servers[1].Pass || !rep.Servers[0].Pass {
		t.Errorf("a failing server: exit %d, servers %+v", code, rep.Servers)
	}
}

func TestSoakArguments(t *testing.T) {
	stdout, _, code := readiness(t, nil, 10*time.Second, "soak", "-h")
	if code != 0 || !strings.Contains(stdout, "Usage: readiness soak") || !strings.Contains(stdout, "-rss-growth") {
		t.Errorf("-h: exit %d\n%s", code, stdout)
	}
	for _, args := range [][]string{
		{"soak", "-d", "0"}, {"soak", "-models", "nosuch"}, {"soak", "-rate", "0"}, {"soak", "-conns", "0"},
		{"soak", "-fd-slack", "-1"}, {"soak", "-idle-timeout", "-1s"}, {"soak", "extra"}, {"soak", "-nosuch"},
	} {
		if _, stderr, code := readiness(t, nil, 10*time.Second, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q: want 2 and a message", args, code, stderr)
		}
	}
}
