package perf

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file    string
		want    uint64
		wantErr bool
	}{
		{file: "counted.txt", want: 124128},
		{file: "idle.txt", want: 0},
		{file: "unsupported.txt", wantErr: true},
		{file: "refused.txt", wantErr: true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			n, err := Parse(b)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Parse = %d, want an error", n)
				}
				return
			}
			if err != nil || n != tc.want {
				t.Fatalf("Parse = %d, %v; want %d", n, err, tc.want)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(os.Getpid())
	var u *Unavailable
	if !errors.As(err, &u) {
		t.Fatalf("Start without perf in PATH: %v, want *Unavailable", err)
	}
	if !strings.Contains(u.Reason, "not installed") {
		t.Errorf("reason %q does not say perf is missing", u.Reason)
	}
}

// TestRefused stands in a perf that fails the way a kernel refusal does.
func TestRefused(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'No permission to enable raw_syscalls:sys_enter event.' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "perf"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	_, err := Start(os.Getpid())
	var u *Unavailable
	if !errors.As(err, &u) {
		t.Fatalf("Start with a refusing perf: %v, want *Unavailable", err)
	}
	if !strings.Contains(u.Reason, "No permission") {
		t.Errorf("reason %q does not carry perf's own explanation", u.Reason)
	}
}

// TestCountSelf attaches perf to this test process and makes a known
// number of system calls inside the window.
func TestCountSelf(t *testing.T) {
	if _, err := exec.LookPath("perf"); err != nil {
		t.Skip("perf is not installed")
	}
	c, err := Start(os.Getpid())
	var u *Unavailable
	if errors.As(err, &u) {
		t.Skipf("perf cannot count here: %s", u.Reason)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	const calls = 20000
	runtime.LockOSThread()
	if err := c.Enable(); err != nil {
		t.Fatal(err)
	}
	for range calls {
		syscall.Getppid()
	}
	if err := c.Disable(); err != nil {
		t.Fatal(err)
	}
	runtime.UnlockOSThread()
	n, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	// The runtime's other threads make a few calls of their own in the window.
	if n < calls || n > calls+calls/2 {
		t.Errorf("counted %d system calls, made %d", n, calls)
	}
}
