package compare

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proc"
)

// ParseCPUs reads a CPU list in the kernel's notation ("0-3,6"), as
// taskset -c and Cpus_allowed_list write it. The result is sorted, without
// duplicates.
func ParseCPUs(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 {
			return nil, fmt.Errorf("CPU list %q: %q is not a CPU number", s, lo)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first {
				return nil, fmt.Errorf("CPU list %q: bad range %q", s, part)
			}
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

// FormatCPUs writes a sorted CPU list in the kernel's notation.
func FormatCPUs(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}

// AllowedCPUs lists the CPUs the calling thread may run on.
func AllowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, os.NewSyscallError("sched_getaffinity", err)
	}
	return setCPUs(&set), nil
}

// SplitCPUs chooses disjoint server and client CPUs from the allowed
// ones: the first half for the server, the rest for the client (on two
// CPUs, server 0 and client 1). With a single CPU both get it and shared
// is true: the figures then include the client competing with the server.
func SplitCPUs(allowed []int) (server, client []int, shared bool) {
	if len(allowed) < 2 {
		return allowed, allowed, true
	}
	half := len(allowed) / 2
	return allowed[:half], allowed[half:], false
}

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

func setCPUs(set *unix.CPUSet) []int {
	var cpus []int
	for c := range 8 * int(unsafe.Sizeof(*set)) {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// pinProcess sets the CPU affinity of every thread of process pid and
// checks it in /proc. A thread created while the list is being walked
// inherits the affinity of its creator, which may not be pinned yet, so
// the walk repeats until it finds every thread pinned.
func pinProcess(pid int, cpus []int) error {
	set := cpuSet(cpus)
	want := FormatCPUs(cpus)
	for range 10 {
		tids, err := proc.Tasks(pid)
		if err != nil {
			return err
		}
		stray := 0
		for _, tid := range tids {
			st, err := proc.TaskStatus(pid, tid)
			if err != nil {
				// The thread exited after the listing.
				continue
			}
			if st.CPUsAllowed == want {
				continue
			}
			stray++
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin thread %d of process %d to CPUs %s: %w", tid, pid, want, os.NewSyscallError("sched_setaffinity", err))
			}
		}
		if stray == 0 {
			return nil
		}
	}
	return fmt.Errorf("process %d keeps starting threads outside CPUs %s", pid, want)
}

// pinSelf pins this whole process (every thread, and so every thread it
// starts later) to cpus, and sizes the Go scheduler to match.
func pinSelf(cpus []int) error {
	if err := pinProcess(os.Getpid(), cpus); err != nil {
		return err
	}
	runtime.GOMAXPROCS(len(cpus))
	return nil
}

// onCPUs runs start on a thread of its own pinned to cpus, so a process
// it forks starts with that affinity before it runs any code. The thread
// is not handed back to the scheduler: it exits with the goroutine.
func onCPUs(cpus []int, start func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.SchedSetaffinity(0, cpuSet(cpus)); err != nil {
			errc <- os.NewSyscallError("sched_setaffinity", err)
			return
		}
		errc <- start()
	}()
	return <-errc
}
