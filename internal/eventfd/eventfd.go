// Package eventfd is how the lab's hand-written event loops (the epoll
// server's and the load generator's) are woken: an eventfd in the loop's
// epoll set, level-triggered, which any goroutine writes to end a wait.
package eventfd

import (
	"os"

	"golang.org/x/sys/unix"
)

// Open creates a nonblocking, close-on-exec eventfd whose count is zero.
func Open() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("eventfd", err)
	}
	return fd, nil
}

// Signal adds one to fd's count, so that fd is readable until Reset: a
// wait watching it ends now, or at once if it begins later.
func Signal(fd int) error {
	one := [8]byte{1}
	for {
		_, err := unix.Write(fd, one[:])
		switch err {
		case nil, unix.EAGAIN:
			// EAGAIN: the count is at its maximum, so fd is readable already.
			return nil
		case unix.EINTR:
			continue // interrupted before writing anything: try again
		default:
			return os.NewSyscallError("write", err)
		}
	}
}

// Reset sets fd's count back to zero, so that it stops being reported.
func Reset(fd int) {
	var b [8]byte
	// EAGAIN means the count was zero already; nothing else can fail here.
	unix.Read(fd, b[:])
}
