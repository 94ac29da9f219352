package journey

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Tracepoints are the kernel events recorded system-wide: the packet's way
// through the stack, the NET_RX softirq, the socket's wake-up, the TCP
// states of the handshake, and the scheduler waking and running threads.
var Tracepoints = []string{
	"net:net_dev_queue", "net:netif_rx", "net:netif_receive_skb",
	"irq:softirq_entry", "irq:softirq_exit", "napi:napi_poll",
	"sock:sk_data_ready", "sock:inet_sock_set_state",
	"sched:sched_waking", "sched:sched_switch",
}

// Syscalls are the tracepoints recorded on the server's and the client's
// threads only: every system call's entry and return.
var Syscalls = []string{"raw_syscalls:sys_enter", "raw_syscalls:sys_exit"}

// Probe is one entry uprobe on a function of the server's binary. Entry
// probes only: a return probe rewrites the return address on the stack,
// and Go moves goroutine stacks, which breaks it.
type Probe struct {
	Func string // the Go function, "runtime.netpoll"
	Args string // perf probe's argument spec, fetched at entry
	Note string // what reaching it means
}

// Probes are the runtime functions that show the netpoller, a goroutine
// readied and run, and an M (thread) going to sleep and being woken. On
// amd64 Go passes the first integer argument in AX.
var Probes = []Probe{
	{"runtime.netpoll", "delay=%ax:s64", "the runtime polls its epoll instance"},
	{"runtime.netpollready", "", "a pollDesc is ready: the goroutine parked on it is collected"},
	{"runtime.netpollunblock", "", "the goroutine parked in a pollDesc is taken out to run"},
	{"runtime.injectglist", "", "the goroutines netpoll collected are put on run queues"},
	{"runtime.ready", "", "a goroutine is made runnable"},
	{"runtime.goready", "", "a goroutine is made runnable (goready)"},
	{"runtime.execute", "", "the scheduler runs a goroutine on this thread (M)"},
	{"runtime.stopm", "", "the thread (M) has no work and parks"},
	{"runtime.startm", "", "an M is started or unparked to run a P"},
	{"runtime.futexsleep", "", "the thread is about to sleep on a futex"},
	{"runtime.futexwakeup", "", "the runtime wakes a thread sleeping on a futex"},
	{"runtime.notewakeup", "", "a note is signalled: the M sleeping on it is woken"},
}

// probeEvent is the perf event name of a probe: "netpoll" for runtime.netpoll.
func probeEvent(fn string) string {
	return strings.NewReplacer(".", "_", "/", "_").Replace(strings.TrimPrefix(fn, "runtime."))
}

// NoSymbols is what a journey says when its binary has no symbol table, so
// that no runtime function can be probed.
const NoSymbols = "uprobes: none added: the readiness binary has no symbol table (go run links without one); " +
	"build it with go build, or run it with go run -ldflags=-s=false"

// ProbeSet is the probes added to one binary under a group of this
// process's own, so removing the group removes nothing it did not add.
type ProbeSet struct {
	Group   string
	Binary  string
	Added   []Probe
	Missing []string
}

// AddProbes adds the entry probes that the binary has; each it lacks is
// named in Missing. It fails only when perf probe itself cannot run.
func AddProbes(binary, group string) (*ProbeSet, error) {
	ps := &ProbeSet{Group: group, Binary: binary}
	if !hasSymbols(binary) {
		ps.Missing = append(ps.Missing, NoSymbols)
		return ps, nil
	}
	out, err := exec.Command("perf", "probe", "-x", binary, "-F", "--filter", "runtime.*").Output()
	if err != nil {
		return nil, fmt.Errorf("perf probe -x %s -F: %w", binary, err)
	}
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		have[strings.TrimSpace(sc.Text())] = true
	}
	var want []Probe
	for _, p := range Probes {
		if have[p.Func] {
			want = append(want, p)
			continue
		}
		ps.Missing = append(ps.Missing, fmt.Sprintf("uprobe %s: no such symbol in the server binary (inlined or renamed in this Go version)", p.Func))
	}
	// One perf probe for all is quick; if it fails, one at a time names
	// the probe that cannot be added.
	args := []string{"probe", "-q", "-x", binary}
	for _, p := range want {
		args = append(args, "--add", ps.spec(p))
	}
	if len(want) > 0 {
		if _, err := exec.Command("perf", args...).CombinedOutput(); err == nil {
			ps.Added = want
			return ps, nil
		}
		// Whatever the failed run added goes before the retry.
		ps.Added = want
		if err := ps.Remove(); err != nil {
			return nil, err
		}
	}
	for _, p := range want {
		if msg, err := exec.Command("perf", "probe", "-q", "-x", binary, "--add", ps.spec(p)).CombinedOutput(); err != nil {
			ps.Missing = append(ps.Missing, fmt.Sprintf("uprobe %s: perf probe --add failed: %s", p.Func, firstLine(msg, err)))
			continue
		}
		ps.Added = append(ps.Added, p)
	}
	return ps, nil
}

// spec is perf probe's definition of p in the group.
func (ps *ProbeSet) spec(p Probe) string {
	s := fmt.Sprintf("%s:%s=%s", ps.Group, probeEvent(p.Func), p.Func)
	if p.Args != "" {
		s += " " + p.Args
	}
	return s
}

// Remove deletes every probe of the group; it is safe to call twice.
func (ps *ProbeSet) Remove() error {
	if ps == nil || len(ps.Added) == 0 {
		return nil
	}
	msg, err := exec.Command("perf", "probe", "-q", "-d", ps.Group+":*").CombinedOutput()
	if err != nil {
		return fmt.Errorf("perf probe -d %s:*: %s", ps.Group, firstLine(msg, err))
	}
	ps.Added = nil
	return nil
}

// Events is the perf event list of the added probes: "GROUP:*".
func (ps *ProbeSet) Events() []string {
	if len(ps.Added) == 0 {
		return nil
	}
	return []string{ps.Group + ":*"}
}

// probeFuncs maps the perf event name of each probe in group back to the
// probe.
func probeFuncs(group string) map[string]Probe {
	m := map[string]Probe{}
	for _, p := range Probes {
		m[group+":"+probeEvent(p.Func)] = p
	}
	return m
}

// NoKprobes is the entry of a journey's missing list on a kernel without
// kprobes: the kernel functions without a tracepoint stay unseen.
const NoKprobes = "kprobe ep_poll_callback: this kernel has no kprobes (no kprobe_events in tracefs); sk_data_ready and sched_waking bracket it, so that step is inferred"

// inTracefs reports whether path exists under tracefs, mounted where
// kernels mount it now or under debugfs as older ones do.
func inTracefs(path string) bool {
	for _, dir := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		if _, err := os.Stat(dir + "/" + path); err == nil {
			return true
		}
	}
	return false
}

// HasKprobes reports whether the kernel offers kprobes through tracefs.
func HasKprobes() bool { return inTracefs("kprobe_events") }

// MissingTracepoints lists the tracepoints this kernel lacks, each with
// the reason, and returns the ones it has.
func MissingTracepoints(names []string) (have, missing []string) {
	for _, n := range names {
		sys, ev, _ := strings.Cut(n, ":")
		if inTracefs("events/" + sys + "/" + ev) {
			have = append(have, n)
			continue
		}
		missing = append(missing, fmt.Sprintf("tracepoint %s: this kernel does not have it (no %s/%s under /sys/kernel/tracing/events)", n, sys, ev))
	}
	return have, missing
}

// Errors for what the machine lacks.
var (
	ErrNotRoot  = errors.New("journey needs root: perf records system-wide and adds uprobes (run it with sudo)")
	ErrNoPerf   = errors.New("perf is not installed: install it with `apt-get install linux-perf` (Debian) or `linux-tools-$(uname -r)` (Ubuntu) and run again")
	ErrParanoid = errors.New("perf_event_paranoid forbids system-wide tracing")
)

// Check says whether perf can record what the journey needs here.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w (running as uid %d)", ErrNotRoot, os.Geteuid())
	}
	if _, err := exec.LookPath("perf"); err != nil {
		return ErrNoPerf
	}
	// Root (CAP_PERFMON, CAP_SYS_ADMIN) is exempt from the setting, except
	// at 3 and above, which some kernels add to forbid perf to everyone.
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrParanoid, err)
	}
	var level int
	if _, err := fmt.Sscan(string(b), &level); err == nil && level > 2 {
		return fmt.Errorf("%w: kernel.perf_event_paranoid is %d; set it to 2 or lower (sysctl kernel.perf_event_paranoid=2)", ErrParanoid, level)
	}
	if !inTracefs("events") {
		return fmt.Errorf("tracefs is not mounted (no /sys/kernel/tracing/events): mount -t tracefs nodev /sys/kernel/tracing")
	}
	return nil
}

// firstLine is a command's complaint in one line.
func firstLine(msg []byte, err error) string {
	for _, l := range strings.Split(string(msg), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "Failed to find debug information") {
			return l
		}
	}
	return err.Error()
}

// hasSymbols reports whether binary has a symbol table, which perf probe
// needs to find a function: go run links without one. A file that cannot be
// read as ELF is left for perf to report on.
func hasSymbols(binary string) bool {
	f, err := elf.Open(binary)
	if err != nil {
		return true
	}
	defer f.Close()
	_, err = f.Symbols()
	return !errors.Is(err, elf.ErrNoSymbols)
}
