package eventfd

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func open(t *testing.T) int {
	t.Helper()
	fd, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// readable polls fd without waiting.
func readable(t *testing.T, fd int) bool {
	t.Helper()
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1 && p[0].Revents&unix.POLLIN != 0
}

func TestSignalReset(t *testing.T) {
	fd := open(t)
	if readable(t, fd) {
		t.Fatal("a new eventfd is readable")
	}
	for range 3 {
		if err := Signal(fd); err != nil {
			t.Fatal(err)
		}
	}
	if !readable(t, fd) {
		t.Fatal("not readable after Signal")
	}
	Reset(fd)
	if readable(t, fd) {
		t.Fatal("still readable after Reset")
	}
	Reset(fd) // a second Reset finds the count at zero: nothing happens
}

// A count at its maximum cannot grow (the write says EAGAIN), and Signal
// still succeeds: the eventfd is readable, which is all a signal promises.
func TestSignalSaturated(t *testing.T) {
	fd := open(t)
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1<<64-2)
	if _, err := unix.Write(fd, b[:]); err != nil {
		t.Fatal(err)
	}
	if err := Signal(fd); err != nil {
		t.Fatalf("Signal on a saturated count: %v", err)
	}
	if !readable(t, fd) {
		t.Fatal("not readable")
	}
}

func TestSignalClosed(t *testing.T) {
	if err := Signal(-1); err == nil {
		t.Fatal("Signal(-1) succeeded")
	}
}
