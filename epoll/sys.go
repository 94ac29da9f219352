package epoll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket calls of the hot path. Every socket here is nonblocking, so
// these calls never sleep: they go through RawSyscall, which skips the
// runtime's entersyscall/exitsyscall bookkeeping (tens of nanoseconds per
// call, paid twice per request). The trade-off is that the runtime cannot
// hand the P to another thread during the call, which only matters for calls
// that can block, and none of these can.

// readFD reads once into b. It returns the bytes read (0 at end of stream).
func readFD(fd int32, b []byte) (int, unix.Errno) {
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		if errno == unix.EINTR {
			continue // a signal arrived before any byte was read: read again
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), 0
	}
}

// sendFD writes once from b. MSG_NOSIGNAL turns a write to a reset connection
// into EPIPE instead of a SIGPIPE, so no signal is ever raised by a client
// going away (the runtime would ignore it for a socket, but it still costs a
// signal delivery).
func sendFD(fd int32, b []byte) (int, unix.Errno) {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
		if errno == unix.EINTR {
			continue // a signal arrived before any byte was written: write again
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), 0
	}
}

// acceptFD takes one connection from a listener, already nonblocking and
// close-on-exec. The peer's address is not asked for: nothing uses it, and
// unix.Accept4 would allocate a Sockaddr for it.
func acceptFD(lfd int) (int32, unix.Errno) {
	for {
		fd, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		if errno == unix.EINTR {
			continue // interrupted before a connection was taken: try again
		}
		if errno != 0 {
			return -1, errno
		}
		return int32(fd), 0
	}
}

// closeFD closes a socket. An error from close leaves the fd released on
// Linux, so there is nothing to retry and nothing to report.
func closeFD(fd int32) {
	unix.Close(int(fd))
}
