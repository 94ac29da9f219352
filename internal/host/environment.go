package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Environment is what a reader needs to judge or repeat a measurement:
// the kernel and its mitigations, the CPU and clock source, the versions
// of what was measured, the sysctls that shape TCP on this machine, and
// (filled by the caller) where each side ran and whether perf counted.
// A figure that could not be read is empty, and Notes says why.
type Environment struct {
	Kernel      string            `json:"kernel"`
	Mitigations map[string]string `json:"mitigations"` // /sys/devices/system/cpu/vulnerabilities/*, by file name
	CPUModel    string            `json:"cpu_model"`
	ClockSource string            `json:"clock_source"`

	ServerCPUs       string         `json:"server_cpus"`
	ClientCPUs       string         `json:"client_cpus"`
	ServerGOMAXPROCS map[string]int `json:"server_gomaxprocs"` // by model, as each server reported it
	ClientGOMAXPROCS int            `json:"client_gomaxprocs"`

	Go       string `json:"go_version"`
	Gnet     string `json:"gnet_version"`
	XSys     string `json:"x_sys_version"`
	Revision string `json:"vcs_revision"`
	// RevisionFrom says where Revision came from: "build info" (the Go
	// toolchain stamped the binary), "git rev-parse HEAD" (the binary was
	// not stamped, as under go run, and the working directory is a
	// checkout), or "unknown".
	RevisionFrom string `json:"vcs_revision_from"`
	Modified     *bool  `json:"vcs_modified"` // uncommitted changes, when known

	Sysctls     map[string]string `json:"sysctls"`
	PerfCounted bool              `json:"perf_counted"` // perf counted system calls in at least one row

	Notes []string `json:"notes"`
}

// Sysctls are the kernel settings recorded: the listen backlog's cap,
// TCP's buffer sizes, and who may use perf.
var Sysctls = []string{"net.core.somaxconn", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "kernel.perf_event_paranoid"}

// ReadEnvironment reads everything but the caller's part (CPUs,
// GOMAXPROCS, whether perf counted).
func ReadEnvironment() Environment {
	m := ThisMachine()
	e := Environment{Kernel: m.Kernel, CPUModel: m.CPUModel, Go: m.Go, Mitigations: map[string]string{}, Sysctls: map[string]string{}, Notes: []string{}}
	const vulns = "/sys/devices/system/cpu/vulnerabilities"
	if ents, err := os.ReadDir(vulns); err != nil {
		e.Notes = append(e.Notes, "mitigations unknown: "+err.Error())
	} else {
		for _, ent := range ents {
			if v, err := readLine(filepath.Join(vulns, ent.Name())); err == nil {
				e.Mitigations[ent.Name()] = v
			}
		}
	}
	var err error
	if e.ClockSource, err = readLine("/sys/devices/system/clocksource/clocksource0/current_clocksource"); err != nil {
		e.Notes = append(e.Notes, "clock source unknown: "+err.Error())
	}
	for _, name := range Sysctls {
		v, err := readLine(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
		if err != nil {
			e.Notes = append(e.Notes, name+" unknown: "+err.Error())
			continue
		}
		e.Sysctls[name] = strings.Join(strings.Fields(v), " ")
	}
	e.Gnet = Dependency("github.com/panjf2000/gnet/v2")
	e.XSys = Dependency("golang.org/x/sys")
	e.readRevision()
	return e
}

// readRevision takes the VCS revision from the build info, or from git
// when the binary was built without it.
func (e *Environment) readRevision() {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				e.Revision, e.RevisionFrom = s.Value, "build info"
			case "vcs.modified":
				e.Modified = ptr(s.Value == "true")
			}
		}
	}
	if e.Revision != "" {
		return
	}
	e.Modified = nil
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		e.RevisionFrom = "unknown"
		e.Notes = append(e.Notes, "vcs_revision unknown: the binary carries no VCS stamp and the working directory is not a git checkout")
		return
	}
	e.Revision, e.RevisionFrom = strings.TrimSpace(string(out)), "git rev-parse HEAD"
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		e.Modified = ptr(len(strings.TrimSpace(string(st))) > 0)
	}
}

// Dependency is the version of the module path linked into this binary,
// or "" when it is not linked.
func Dependency(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range info.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

func readLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func ptr[T any](v T) *T { return &v }
