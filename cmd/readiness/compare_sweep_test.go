package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/compare"
	"github.com/readinesslab/readiness/internal/netns"
)

// A small sweep end to end: three models, 10 connections, three offered
// rates, short windows. Every open row carries its offered rate and
// service times, every model gets a knee entry whose rule is one of the
// three, and the environment, the sweep charts and one HDR log per row
// are written.
func TestCompareSweepEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := compareRun(t, nil, "-conns", "10", "-pipeline", "1", "-rates", "500,1k,2k",
		"-duration", "300ms", "-warmup", "100ms", "-runs", "1", "-out", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"offered", "svc p99", "lag p99", "Knees:", compare.KneeRules, compare.ClientRules} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := readResults(t, b)
	checkRows(t, res, 3+9)
	open := 0
	for i, r := range res.Rows {
		switch r["mode"] {
		case "closed":
			if r["offered_rps"] != nil {
				t.Errorf("closed row %d has offered_rps %v", i, r["offered_rps"])
			}
		case "open":
			open++
			if o, _ := r["offered_rps"].(float64); o != 500 && o != 1000 && o != 2000 {
				t.Errorf("open row %d offered %v", i, r["offered_rps"])
			}
			if r["p99_service_us"] == nil || r["send_lag_p99_us"] == nil {
				t.Errorf("open row %d lacks service time or send lag: %v", i, r)
			}
		default:
			t.Errorf("row %d mode %v", i, r["mode"])
		}
		if r["net"] != "lo" || r["server_cpu_util"] == nil || r["client_cpu_util"] == nil || r["conns_held"] == nil {
			t.Errorf("row %d: net %v, utils %v %v, conns held %v", i, r["net"], r["server_cpu_util"], r["client_cpu_util"], r["conns_held"])
		}
		if _, ok := r["client_bound"].(bool); !ok {
			t.Errorf("row %d client_bound %v", i, r["client_bound"])
		}
	}
	if open != 9 {
		t.Errorf("%d open rows, want 9", open)
	}
	if len(res.Knees) != 3 {
		t.Fatalf("knees %v, want one per model", res.Knees)
	}
	for _, k := range res.Knees {
		rule := k["rule"]
		if rule != compare.RuleAchieved && rule != compare.RuleLatency && rule != compare.RuleNone || k["conns"] != float64(10) {
			t.Errorf("knee %v", k)
		}
		if (k["knee_rps"] == nil) != (rule == compare.RuleNone) {
			t.Errorf("knee %v: a rate without a rule or a rule without a rate", k)
		}
	}
	for _, k := range []string{"kernel", "mitigations", "cpu_model", "clock_source", "server_cpus", "client_cpus", "server_gomaxprocs", "client_gomaxprocs",
		"go_version", "gnet_version", "x_sys_version", "vcs_revision", "vcs_revision_from", "sysctls", "perf_counted"} {
		if _, ok := res.Environment[k]; !ok {
			t.Errorf("environment lacks %q", k)
		}
	}
	for _, f := range append(compare.ResultFiles, compare.SweepChartFiles...) {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if logs, err := os.ReadDir(filepath.Join(dir, compare.HDRDir)); err != nil || len(logs) != 12 {
		t.Errorf("%d HDR logs (%v), want 12", len(logs), err)
	}
}

// A client that cannot send: a busy process at the highest priority shares
// the client's CPU, so the load generator gets about 1% of it and sends
// its 20k requests/s far behind schedule while the server idles. The open
// row is client-bound, with a note saying why, and the table says so.
func TestCompareClientBound(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("raising a process to nice -20 needs root")
	}
	allowed, err := compare.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(allowed) < 2 {
		t.Skip("needs two CPUs: one for the server, one for the client and the busy process")
	}
	server, client := strconv.Itoa(allowed[0]), strconv.Itoa(allowed[1])
	hog := exec.Command("sh", "-c", "while :; do :; done")
	if err := hog.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hog.Process.Kill(); hog.Wait() })
	var set unix.CPUSet
	set.Set(allowed[1])
	if err := unix.SchedSetaffinity(hog.Process.Pid, &set); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, hog.Process.Pid, -20); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stdout, stderr, code := compareRun(t, nil, "-models", "epoll", "-conns", "10", "-pipeline", "1", "-rates", "20k",
		"-server-cpus", server, "-client-cpus", client, "-duration", "500ms", "-warmup", "100ms", "-runs", "1", "-out", dir, "-json")
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	res := readResults(t, []byte(stdout))
	var open map[string]any
	for _, r := range res.Rows {
		if r["mode"] == "open" {
			open = r
		}
	}
	if open == nil {
		t.Fatalf("no open row: %v", res.Rows)
	}
	notes, _ := json.Marshal(open["notes"])
	if open["client_bound"] != true || !strings.Contains(string(notes), "client-bound: ") {
		t.Errorf("open row not client-bound: rps %v, send lag p99 %v, p99 %v, client util %v, server util %v; notes %s",
			open["rps"], open["send_lag_p99_us"], open["p99_us"], open["client_cpu_util"], open["server_cpu_util"], notes)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "results.md"))
	if !strings.Contains(string(md), "## Client-bound rows") || !strings.Contains(string(md), "yes(1/1)") {
		t.Errorf("results.md does not show the client-bound row:\n%s", md)
	}
}

// compare -net veth runs each server in a namespace of its own and the
// client in another; SIGINT in the middle of the run still removes both
// namespaces before compare exits.
func TestCompareVethRemovedOnSIGINT(t *testing.T) {
	if err := netns.Check(); err != nil {
		t.Skipf("network namespaces unavailable here: %v", err)
	}
	cmd := exec.Command(readinessBinary(t), "compare", "-net", "veth", "-models", "epoll,std", "-conns", "10", "-pipeline", "1",
		"-rates", "off", "-duration", "2s", "-warmup", "0s", "-runs", "3", "-out", t.TempDir())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	names := []string{fmt.Sprintf("readiness-%d-srv", cmd.Process.Pid), fmt.Sprintf("readiness-%d-cli", cmd.Process.Pid)}
	exists := func(name string) bool { _, err := os.Stat("/run/netns/" + name); return err == nil }
	deadline := time.Now().Add(10 * time.Second)
	for !exists(names[0]) || !exists(names[1]) {
		if time.Now().After(deadline) {
			t.Fatalf("namespaces %v not made within 10 s; stderr:\n%s", names, errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Into the first measured window.
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("compare still running 15 s after SIGINT; stderr:\n%s", errOut.String())
	}
	for _, n := range names {
		if exists(n) {
			t.Errorf("namespace %s left behind after SIGINT; stderr:\n%s", n, errOut.String())
			exec.Command("ip", "netns", "delete", n).Run()
		}
	}
}
