package journey

import "golang.org/x/sys/unix"

// sysNames are the names, as strace spells them, of the system calls a
// journey shows; others are shown as "syscall_NR".
var sysNames = map[int64]string{
	unix.SYS_READ: "read", unix.SYS_WRITE: "write", unix.SYS_CLOSE: "close",
	unix.SYS_READV: "readv", unix.SYS_WRITEV: "writev",
	unix.SYS_SOCKET: "socket", unix.SYS_CONNECT: "connect", unix.SYS_ACCEPT: "accept",
	unix.SYS_ACCEPT4: "accept4", unix.SYS_SENDTO: "sendto", unix.SYS_RECVFROM: "recvfrom",
	unix.SYS_SENDMSG: "sendmsg", unix.SYS_RECVMSG: "recvmsg", unix.SYS_SHUTDOWN: "shutdown",
	unix.SYS_BIND: "bind", unix.SYS_LISTEN: "listen", unix.SYS_GETSOCKNAME: "getsockname",
	unix.SYS_GETPEERNAME: "getpeername", unix.SYS_SETSOCKOPT: "setsockopt",
	unix.SYS_GETSOCKOPT: "getsockopt",
	unix.SYS_EPOLL_WAIT: "epoll_wait", unix.SYS_EPOLL_PWAIT: "epoll_pwait",
	unix.SYS_EPOLL_PWAIT2: "epoll_pwait2", unix.SYS_EPOLL_CTL: "epoll_ctl",
	unix.SYS_EPOLL_CREATE1: "epoll_create1", unix.SYS_EVENTFD2: "eventfd2",
	unix.SYS_FUTEX: "futex", unix.SYS_NANOSLEEP: "nanosleep",
	unix.SYS_CLOCK_NANOSLEEP: "clock_nanosleep", unix.SYS_SCHED_YIELD: "sched_yield",
	unix.SYS_TIMERFD_SETTIME: "timerfd_settime", unix.SYS_TIMERFD_CREATE: "timerfd_create",
	unix.SYS_TGKILL: "tgkill", unix.SYS_GETPID: "getpid", unix.SYS_GETTID: "gettid",
	unix.SYS_RT_SIGRETURN: "rt_sigreturn", unix.SYS_RT_SIGPROCMASK: "rt_sigprocmask",
	unix.SYS_RT_SIGACTION: "rt_sigaction", unix.SYS_SIGALTSTACK: "sigaltstack",
	unix.SYS_MMAP: "mmap", unix.SYS_MUNMAP: "munmap", unix.SYS_MADVISE: "madvise",
	unix.SYS_CLONE: "clone", unix.SYS_CLONE3: "clone3", unix.SYS_EXIT: "exit",
	unix.SYS_EXIT_GROUP: "exit_group", unix.SYS_OPENAT: "openat", unix.SYS_FCNTL: "fcntl",
	unix.SYS_PRCTL: "prctl", unix.SYS_SCHED_GETAFFINITY: "sched_getaffinity",
	unix.SYS_GETRANDOM: "getrandom", unix.SYS_FSTAT: "fstat", unix.SYS_NEWFSTATAT: "newfstatat",
	unix.SYS_PIDFD_OPEN: "pidfd_open", unix.SYS_WAITID: "waitid", unix.SYS_PIDFD_SEND_SIGNAL: "pidfd_send_signal",
}

// goAheadRead is read(2): the client reads its go-ahead from stdin.
const goAheadRead = unix.SYS_READ
