package host

import (
	"os"
	"regexp"
	"testing"
)

// ReadEnvironment fills what this machine has: the kernel, the sysctls,
// and the revision, which a test binary carries no stamp of, so it comes
// from git in this checkout.
func TestReadEnvironment(t *testing.T) {
	e := ReadEnvironment()
	if e.Kernel == "" || e.Go == "" {
		t.Errorf("kernel %q, go %q", e.Kernel, e.Go)
	}
	for _, name := range Sysctls {
		if _, ok := e.Sysctls[name]; !ok {
			t.Errorf("sysctl %s missing; notes %q", name, e.Notes)
		}
	}
	if _, err := os.Stat("/sys/devices/system/cpu/vulnerabilities"); err == nil && len(e.Mitigations) == 0 {
		t.Error("the vulnerabilities directory exists but no mitigation was read")
	}
	if _, err := os.Stat("/sys/devices/system/clocksource/clocksource0/current_clocksource"); err == nil && e.ClockSource == "" {
		t.Error("no clock source")
	}
	switch e.RevisionFrom {
	case "build info", "git rev-parse HEAD":
		if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(e.Revision) {
			t.Errorf("revision %q from %s", e.Revision, e.RevisionFrom)
		}
	case "unknown":
		if e.Revision != "" || len(e.Notes) == 0 {
			t.Errorf("unknown revision %q without a note: %q", e.Revision, e.Notes)
		}
	default:
		t.Errorf("revision from %q", e.RevisionFrom)
	}
	// The test runs in a checkout: git can say the revision.
	if _, err := os.Stat("../../.git"); err == nil && e.RevisionFrom == "unknown" {
		t.Errorf("in a checkout, yet the revision is unknown: %q", e.Notes)
	}
}
