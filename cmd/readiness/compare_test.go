package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/compare"
)

// compareRun runs `readiness compare args...` with env added to the
// environment and returns its output and exit status.
func compareRun(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return readiness(t, env, 5*time.Minute, append([]string{"compare"}, args...)...)
}

// contractFields are the row fields CONTRACT.md requires.
func contractFields(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../compare/testdata/contract_fields.txt")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

type resultsFile struct {
	Machine     map[string]any   `json:"machine"`
	Environment map[string]any   `json:"environment"`
	Knees       []map[string]any `json:"knees"`
	Rows        []map[string]any `json:"rows"`
}

func readResults(t *testing.T, b []byte) resultsFile {
	t.Helper()
	var r resultsFile
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("results.json: %v\n%s", err, b)
	}
	return r
}

// closedNull are the fields the contract makes null in closed-loop rows.
var closedNull = map[string]bool{"offered_rps": true, "p50_service_us": true, "p90_service_us": true, "p99_service_us": true, "p999_service_us": true, "max_service_us": true}

// checkRows checks every row has every contract field, no errors, and a
// value or a note for each figure.
func checkRows(t *testing.T, res resultsFile, rows int) {
	t.Helper()
	if len(res.Rows) != rows {
		t.Fatalf("%d rows, want %d", len(res.Rows), rows)
	}
	fields := append(contractFields(t), "allocs_per_req", "gc_count")
	for i, r := range res.Rows {
		notes, _ := json.Marshal(r["notes"])
		for _, f := range fields {
			v, ok := r[f]
			if !ok {
				t.Errorf("row %d lacks %q", i, f)
				continue
			}
			if v == nil && r["mode"] == "closed" && closedNull[f] {
				continue
			}
			if v == nil && !strings.Contains(string(notes), f) {
				t.Errorf("row %d: %s is null without a note saying why: %s", i, f, notes)
			}
		}
		if r["errors"] != float64(0) || r["requests"] == float64(0) {
			t.Errorf("row %d: %v requests, %v errors; notes %s", i, r["requests"], r["errors"], notes)
		}
	}
}

func TestCompareHelp(t *testing.T) {
	stdout, _, code := compareRun(t, nil, "-h")
	if code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	for _, f := range []string{"models", "conns", "pipeline", "rates", "auto-points", "net", "duration", "warmup", "runs", "client", "server-cpus", "client-cpus", "loops", "out", "benchstat", "json"} {
		if !strings.Contains(stdout, "\n  -"+f+" ") && !strings.Contains(stdout, "\n  -"+f+"\n") {
			t.Errorf("-h does not explain -%s:\n%s", f, stdout)
		}
	}
}

func TestCompareBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-client", "ab"}, {"-models", "epoll,nginx"}, {"-conns", "0"}, {"-pipeline", "x"},
		{"-runs", "0"}, {"-duration", "0s"}, {"-server-cpus", "a"}, {"extra"},
		{"-rates", "0"}, {"-rates", "fast"}, {"-rates", "1k,-2k"}, {"-net", "eth0"}, {"-client", "wrk", "-rates", "1k"},
		{"-rates", "auto", "-auto-points", "1"},
		{"-models", "epoll:idle"}, {"-models", "nginx:idle=park"}, {"-models", "epoll:bogus=1"},
		{"-models", "epoll:idle=nap"}, {"-models", "std:lock=1"}, {"-models", "epoll:idle=park,epoll:idle=park"},
	} {
		_, stderr, code := compareRun(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, "readiness compare") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}

// The whole job in miniature: three models, two pipeline depths, every
// file written and every contract field present.
func TestCompareEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	bench := filepath.Join(t.TempDir(), "bench.txt")
	stdout, stderr, code := compareRun(t, nil, "-duration", "150ms", "-warmup", "50ms", "-runs", "1",
		"-conns", "2", "-pipeline", "1,4", "-rates", "off", "-out", dir, "-benchstat", bench)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// stderr is not a terminal: no progress display, only warnings (a
	// machine with one CPU gets one).
	for l := range strings.Lines(stderr) {
		if !strings.HasPrefix(l, "readiness compare: warning: ") {
			t.Errorf("stderr is not a terminal, yet compare wrote to it:\n%s", stderr)
			break
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) < 7 || !strings.Contains(lines[0], "CPU µs/req") {
		t.Fatalf("no table on stdout:\n%s", stdout)
	}
	for i, m := range []string{"epoll", "gnet", "std", "epoll", "gnet", "std"} {
		if f := strings.Fields(lines[1+i]); f[0] != m || f[1] != "2" {
			t.Errorf("table line %d: %s", 1+i, lines[1+i])
		}
	}
	for _, f := range append(compare.ResultFiles, compare.ChartFiles...) {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := readResults(t, b)
	checkRows(t, res, 6)
	for _, k := range []string{"cpus", "cpu_model", "kernel", "go_version", "gnet_version", "date"} {
		if _, ok := res.Machine[k]; !ok {
			t.Errorf("machine lacks %q", k)
		}
	}
	for i, r := range res.Rows {
		if r["allocs_per_req"] == nil || r["cpu_us_per_req"] == nil && r["rps"] != nil {
			t.Errorf("row %d: allocs_per_req %v, cpu_us_per_req %v; notes %v", i, r["allocs_per_req"], r["cpu_us_per_req"], r["notes"])
		}
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "results.csv"))
	if n := strings.Count(string(csv), "\n"); n != 7 {
		t.Errorf("results.csv has %d lines, want 7", n)
	}
	bl, err := os.ReadFile(bench)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(bl), "\nBenchmarkCompare/model="); n != 6 {
		t.Errorf("%d benchmark lines, want 6:\n%s", n, bl)
	}
}

// Two configurations of one model side by side: each variant's rows carry
// its full spelling, and the park variant's server really ran with -idle
// park, as its own startup line (the row's server field) says.
func TestCompareVariants(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := compareRun(t, nil, "-models", "epoll,epoll:idle=park", "-conns", "1", "-pipeline", "1",
		"-rates", "off", "-duration", "200ms", "-warmup", "100ms", "-runs", "1", "-json", "-out", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	res := readResults(t, []byte(stdout))
	checkRows(t, res, 2)
	for i, want := range []struct{ model, idle string }{{"epoll", "idle=hold"}, {"epoll:idle=park", "idle=park"}} {
		r := res.Rows[i]
		line, _ := r["server"].(string)
		if r["model"] != want.model || !strings.HasPrefix(line, "epoll listening on ") || !strings.Contains(line, " "+want.idle+" ") {
			t.Errorf("row %d: model %v, server %q; want %s with %s", i, r["model"], line, want.model, want.idle)
		}
	}
	csv, err := os.ReadFile(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(csv), "\nepoll:idle=park,") {
		t.Errorf("results.csv has no epoll:idle=park row:\n%s", csv)
	}
}

// Without perf in PATH the system calls are null with a note, and -json
// prints results.json's object.
func TestCompareWithoutPerfJSON(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := compareRun(t, []string{"PATH=" + t.TempDir()}, "-models", "epoll", "-duration", "150ms", "-warmup", "50ms",
		"-runs", "1", "-conns", "2", "-pipeline", "1", "-rates", "off", "-out", dir, "-json")
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	res := readResults(t, []byte(stdout))
	checkRows(t, res, 1)
	r := res.Rows[0]
	notes, _ := json.Marshal(r["notes"])
	if r["syscalls_per_req"] != nil || !strings.Contains(string(notes), "syscalls_per_req is null: perf is not installed") {
		t.Errorf("syscalls_per_req %v, notes %s", r["syscalls_per_req"], notes)
	}
	if r["cpu_us_per_req"] == nil || r["rss_bytes"] == nil {
		t.Errorf("/proc figures missing: %v", r)
	}
	file, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if !bytes.Equal(bytes.TrimSpace(file), bytes.TrimSpace([]byte(stdout))) {
		t.Error("-json output differs from results.json")
	}
}

func TestCompareWrk(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrk is not installed; CI must run this test")
		}
		t.Skip("wrk is not installed")
	}
	dir := t.TempDir()
	stdout, stderr, code := compareRun(t, nil, "-client", "wrk", "-models", "epoll,std", "-duration", "150ms", "-warmup", "0s",
		"-runs", "1", "-conns", "2", "-pipeline", "1,4", "-out", dir, "-json")
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	res := readResults(t, []byte(stdout))
	checkRows(t, res, 4)
	if res.Machine["client"] != "wrk" || res.Machine["client_version"] == nil {
		t.Errorf("machine %v", res.Machine)
	}
	for i, r := range res.Rows {
		if r["client"] != "wrk" || r["p50_us"] == nil {
			t.Errorf("row %d: %v", i, r)
		}
		// wrk sometimes prints 0 for a high percentile of a short pipelined
		// run; compare must then say so rather than report a zero.
		notes, _ := json.Marshal(r["notes"])
		for _, f := range []string{"p90_us", "p99_us", "p999_us"} {
			if r[f] == nil && !strings.Contains(string(notes), f+" is null") {
				t.Errorf("row %d: %s is null without a note: %v", i, f, r)
			}
		}
	}
}

func TestCompareWrkMissing(t *testing.T) {
	_, stderr, code := compareRun(t, []string{"PATH=" + t.TempDir()}, "-client", "wrk", "-runs", "1", "-out", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "wrk is not installed") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// SIGUSR1 makes serve write one memstats line to stderr and keep serving.
func TestServeMemStats(t *testing.T) {
	eachModel(t, func(t *testing.T, m model) {
		p := startServe(t, m.name)
		request(t, p.Addr)
		parse := func() []compare.MemStats {
			var got []compare.MemStats
			for l := range strings.Lines(p.stderr.String()) {
				if ms, ok := compare.ParseMemStats(l); ok {
					got = append(got, ms)
				}
			}
			return got
		}
		var got []compare.MemStats
		for n := 1; n <= 2; n++ {
			p.signal(t, syscall.SIGUSR1)
			for deadline := time.Now().Add(5 * time.Second); len(got) < n; got = parse() {
				if time.Now().After(deadline) {
					t.Fatalf("%d memstats lines on stderr 5 s after SIGUSR1 number %d: %q", len(got), n, p.stderr)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		if len(got) != 2 || got[0].Mallocs == 0 || got[1].Mallocs < got[0].Mallocs || got[1].TotalAlloc < got[0].TotalAlloc {
			t.Fatalf("memstats lines %+v", got)
		}
		request(t, p.Addr)
		p.signal(t, syscall.SIGTERM)
		if code := p.wait(t, 5*time.Second); code != 0 {
			t.Errorf("exit %d after SIGUSR1 and SIGTERM", code)
		}
	})
}

// On a single CPU compare still runs, and warns that server and client
// share it.
func TestCompareOneCPUWarns(t *testing.T) {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		t.Skip("taskset (util-linux) is not installed")
	}
	allowed, err := compare.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	cpu := strconv.Itoa(allowed[0])
	dir := t.TempDir()
	cmd := exec.Command(taskset, "-c", cpu, readinessBinary(t), "compare", "-models", "epoll", "-conns", "1", "-pipeline", "1",
		"-rates", "off", "-duration", "100ms", "-warmup", "0s", "-runs", "1", "-out", dir, "-json")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "warning: only CPU "+cpu+" is available: server and client share it") {
		t.Errorf("no warning on stderr: %q", errOut.String())
	}
	res := readResults(t, out.Bytes())
	if res.Machine["shared_cpu"] != true || res.Machine["server_cpus"] != cpu || res.Machine["client_cpus"] != cpu {
		t.Errorf("machine %v", res.Machine)
	}
}

// parseModels takes variants and checks their flags with serve's own
// parsing, before any server runs.
func TestCompareParseModels(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string // a part of the error; empty: no error
	}{
		{in: "epoll,gnet,std", want: []string{"epoll", "gnet", "std"}},
		{in: "epoll, epoll:idle=park ,epoll:idle=block:trigger=edge", want: []string{"epoll", "epoll:idle=park", "epoll:idle=block:trigger=edge"}},
		{in: "gnet,gnet:lock=1,std:serial=true", want: []string{"gnet", "gnet:lock=1", "std:serial=true"}},
		{in: "epoll:idle", err: `"idle" is not FLAG=VALUE`},
		{in: "nginx:idle=park", err: `unknown model "nginx"`},
		{in: "epoll:bogus=1", err: "flag provided but not defined: -bogus"},
		{in: "epoll:idle=nap", err: `-idle "nap"`},
		{in: "std:serial=maybe", err: "serial"},
		{in: "epoll:lock=1", err: "gnet only"},
		{in: "epoll:addr=127.0.0.1:0", err: "cannot vary"},
	} {
		got, err := parseModels(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseModels(%q) = %q, %v; want an error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseModels(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
