package journey

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// A Go binary linked without a symbol table, as go run links one, has no
// runtime function to probe: AddProbes adds nothing and says why once,
// instead of calling every probe missing from this Go version.
func TestAddProbesWithoutSymbols(t *testing.T) {
	if _, err := exec.LookPath("perf"); err != nil {
		t.Skip("perf is not installed: perf probe cannot list the binary's functions")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "stripped")
	build := exec.Command("go", "build", "-ldflags=-s", "-o", bin, src)
	build.Dir = dir
	build.Env = append(os.Environ(), "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ps, err := AddProbes(bin, "readinesstest")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Remove()
	if len(ps.Added) != 0 || !slices.Equal(ps.Missing, []string{NoSymbols}) {
		t.Errorf("added %v, missing %q; want nothing added and only %q", ps.Added, ps.Missing, NoSymbols)
	}
}
