package compare

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/stdserver"
)

// serverEnv makes this test binary, started by Run as `BINARY serve MODEL
// ...`, a server instead of a test run.
const serverEnv = "READINESS_COMPARE_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		os.Exit(serveForRun())
	}
	os.Exit(m.Run())
}

// serveForRun stands in for `readiness serve`: the std server on a free
// loopback port, its listening line on stdout, a memstats line on stderr
// for each SIGUSR1, and a shutdown and exit 0 on SIGTERM.
func serveForRun() int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	cfg := serve.Default()
	cfg.Addr = "127.0.0.1:0"
	srv, err := stdserver.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("listening on %s\n", srv.Addr())
	for sig := range sigs {
		if sig == syscall.SIGUSR1 {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Fprintln(os.Stderr, FormatMemStats(&m))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := srv.Shutdown(ctx)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	return 0
}

// runOne runs a one-cell comparison against this binary as the server and
// restores this process's CPU affinity and GOMAXPROCS, which Run changes.
func runOne(t *testing.T, noSyscalls bool) *Results {
	t.Helper()
	allowed, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		if err := pinProcess(os.Getpid(), allowed); err != nil {
			t.Errorf("restore the CPU affinity: %v", err)
		}
		runtime.GOMAXPROCS(procs)
	})
	t.Setenv(serverEnv, "1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{
		Models: []string{"std"}, Conns: []int{2}, Pipeline: []int{1},
		Duration: 300 * time.Millisecond, Runs: 1, Client: ClientBuiltin,
		Loops: 1, Binary: os.Args[0], NoSyscalls: noSyscalls,
	})
	if err != nil {
		t.Fatalf("Run: %v (rows %+v)", err, res)
	}
	if len(res.Rows) != 1 || res.Rows[0].Requests == 0 || res.Rows[0].CPUTicks == nil {
		t.Fatalf("rows %+v", res.Rows)
	}
	return res
}

const tracedPath = "traced path"

// A run that counts no system calls says nothing of what counting costs.
func TestRunWithoutPerfHasNoPerfNote(t *testing.T) {
	res := runOne(t, true)
	if res.Rows[0].Syscalls != nil {
		t.Fatalf("system calls counted with perf disabled: %d", *res.Rows[0].Syscalls)
	}
	if !strings.Contains(strings.Join(res.Rows[0].Notes, "\n"), "perf disabled") {
		t.Errorf("row notes %q do not say why syscalls_per_req is null", res.Rows[0].Notes)
	}
	if notes := strings.Join(res.Machine.Notes, "\n"); strings.Contains(notes, tracedPath) {
		t.Errorf("machine notes speak of perf's cost in a run without perf:\n%s", notes)
	}
}

// With perf allowed, the note on its cost is there exactly when perf
// counted.
func TestRunWithPerfNotesItsCost(t *testing.T) {
	res := runOne(t, false)
	counted := res.Rows[0].Syscalls != nil
	noted := strings.Contains(strings.Join(res.Machine.Notes, "\n"), tracedPath)
	if counted != noted {
		t.Errorf("perf counted: %v, machine notes speak of its cost: %v\nrow notes %q\nmachine notes %q", counted, noted, res.Rows[0].Notes, res.Machine.Notes)
	}
	if !counted {
		t.Logf("perf did not count here: %q", res.Rows[0].Notes)
	}
}

func TestPerfNote(t *testing.T) {
	n := int64(100)
	counted := Row{Requests: 10, Syscalls: &n}
	uncounted := Row{Requests: 10}
	broken := Row{}
	broken.fail(fmt.Errorf("no server"))
	for _, tc := range []struct {
		name string
		rows []Row
		want string // a part of the note; "" for no note
	}{
		{"no rows", nil, ""},
		{"none counted", []Row{uncounted, uncounted}, ""},
		{"only failed rows", []Row{broken}, ""},
		{"all counted", []Row{counted, broken, counted}, "every model alike"},
		{"some counted", []Row{counted, uncounted, broken}, "in 1 of 2 measured rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note := perfNote(tc.rows)
			switch {
			case tc.want == "" && note != "":
				t.Errorf("note %q, want none", note)
			case tc.want != "" && (!strings.Contains(note, tc.want) || !strings.Contains(note, tracedPath)):
				t.Errorf("note %q, want one with %q", note, tc.want)
			}
		})
	}
}
