package testnet

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// Filler holds /dev/null descriptors that use up the open-file limit, so
// that the next socket a server accepts fails with EMFILE.
type Filler struct{ fds []int }

// FillFDs opens /dev/null until open fails with EMFILE; the files are closed
// when the test ends at the latest.
func FillFDs(t testing.TB) *Filler {
	t.Helper()
	f := &Filler{}
	t.Cleanup(func() { f.Release(-1) })
	for len(f.fds) < 1<<20 {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EMFILE) {
			return f
		}
		if err != nil {
			t.Fatalf("open /dev/null: %v", err)
		}
		f.fds = append(f.fds, fd)
	}
	t.Fatal("open never failed with EMFILE")
	return nil
}

// Release closes n of the files, or all of them when n is negative.
func (f *Filler) Release(n int) {
	if n < 0 || n > len(f.fds) {
		n = len(f.fds)
	}
	for _, fd := range f.fds[len(f.fds)-n:] {
		unix.Close(fd)
	}
	f.fds = f.fds[:len(f.fds)-n]
}

// Count is how many files it holds.
func (f *Filler) Count() int { return len(f.fds) }
