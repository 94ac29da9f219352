package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proc"
	"github.com/readinesslab/readiness/internal/proto"
)

func init() {
	register(command{name: "floor", summary: "the physical floor: one request and response over loopback, blocking sockets, no runtime in the way", run: runFloor})
}

// floorRequest is what the built-in client sends, byte for byte in length.
var floorRequest = []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")

// floorWaits are the server sides the floor measures: a blocking read, or a
// blocking epoll_wait on the one socket before the read, as an event loop
// that sleeps in epoll does.
var floorWaits = []string{"read", "epoll"}

// floorResult is one measured window of the ping-pong.
type floorResult struct {
	Wait       string  `json:"wait"`
	Run        int     `json:"run"`
	RoundTrips int64   `json:"round_trips"`
	WallUs     float64 `json:"wall_us_per_rt"`
	// The server's thread alone, from /proc/self/task/TID: run time
	// (schedstat, in ns) and context switches.
	ServerCPUUs float64 `json:"server_cpu_us_per_rt"`
	ServerCtxsw float64 `json:"server_ctxsw_per_rt"`
	ClientCPUUs float64 `json:"client_cpu_us_per_rt"`
}

func runFloor(args []string) int {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	serverCPU := fs.Int("server-cpu", 1, "the CPU the server thread is pinned to")
	clientCPU := fs.Int("client-cpu", 0, "the CPU the client thread is pinned to")
	d := fs.Duration("d", 3*time.Second, "the measured window of each run")
	warmup := fs.Duration("warmup", 300*time.Millisecond, "round trips before each window, not measured")
	runs := fs.Int("runs", 3, "windows per wait, interleaved")
	waits := fs.String("wait", strings.Join(floorWaits, ","), "the server sides to measure: read, epoll")
	asJSON := fs.Bool("json", false, "print the runs as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			floorUsage(os.Stdout, fs)
			return 0
		}
		fmt.Fprintf(os.Stderr, "readiness floor: %v\n(readiness floor -h explains the flags)\n", err)
		return 2
	}
	list := strings.Split(*waits, ",")
	for _, w := range list {
		if !slices.Contains(floorWaits, w) {
			fmt.Fprintf(os.Stderr, "readiness floor: -wait %q: want read or epoll\n", w)
			return 2
		}
	}
	if *runs < 1 || *d <= 0 || *serverCPU == *clientCPU {
		fmt.Fprintln(os.Stderr, "readiness floor: want -runs >= 1, -d > 0 and two different CPUs")
		return 2
	}
	// Both pinned threads hold a P through their blocking calls; a spare
	// one lets this goroutine read /proc meanwhile.
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 3))
	var results []floorResult
	for run := 0; run < *runs; run++ {
		for _, w := range list {
			r, err := pingPong(w, *serverCPU, *clientCPU, *warmup, *d)
			if err != nil {
				fmt.Fprintf(os.Stderr, "readiness floor: %s: %v\n", w, err)
				return 1
			}
			r.Run = run
			results = append(results, r)
		}
	}
	if *asJSON {
		return printJSON("floor", results)
	}
	fmt.Printf("%-6s %4s %10s %9s %13s %13s %13s\n", "wait", "run", "round trips", "wall µs", "server CPU µs", "server ctxsw", "client CPU µs")
	for _, r := range results {
		fmt.Printf("%-6s %4d %10d %9.2f %13.2f %13.3f %13.2f\n", r.Wait, r.Run, r.RoundTrips, r.WallUs, r.ServerCPUUs, r.ServerCtxsw, r.ClientCPUUs)
	}
	fmt.Println("per round trip; the server's figures are its one thread's, from /proc/self/task/TID (schedstat run time, context switches)")
	return 0
}

func floorUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: readiness floor [flags]

Measures the least a request can cost here: a client thread and a server
thread, each locked to its OS thread and pinned to its own CPU, pass the
built-in client's request and the lab's 200 response back and forth over one
loopback TCP connection with blocking sockets and raw system calls: no event
loop, no runtime scheduling, no parsing. Each round trip costs the server
one sleep and one wake-up, a read and a write (and with -wait epoll a
blocking epoll_wait before the read). The figures are per round trip: wall
time, the server thread's CPU time and context switches, the client
thread's CPU time.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// pingPong runs one window of round trips over a fresh loopback connection.
func pingPong(wait string, serverCPU, clientCPU int, warmup, d time.Duration) (floorResult, error) {
	cfd, sfd, err := loopbackPair()
	if err != nil {
		return floorResult{}, err
	}
	defer unix.Close(cfd)
	defer unix.Close(sfd)

	var rts atomic.Int64
	var measuring atomic.Bool
	stop := time.Now().Add(warmup + d + time.Second)
	type started struct {
		tid int
		err error
	}
	serverUp, clientUp := make(chan started, 1), make(chan started, 1)
	serverDone, clientDone := make(chan error, 1), make(chan error, 1)
	go func() {
		serverDone <- floorServer(sfd, wait, serverCPU, func(tid int, err error) { serverUp <- started{tid, err} })
	}()
	s := <-serverUp
	if s.err != nil {
		return floorResult{}, s.err
	}
	go func() {
		clientDone <- floorClient(cfd, clientCPU, &rts, &measuring, stop, func(tid int, err error) { clientUp <- started{tid, err} })
	}()
	c := <-clientUp
	if c.err != nil {
		unix.Shutdown(cfd, unix.SHUT_RDWR)
		<-serverDone
		return floorResult{}, c.err
	}

	time.Sleep(warmup)
	s0, c0 := threadUsage(s.tid), threadUsage(c.tid)
	n0, t0 := rts.Load(), time.Now()
	time.Sleep(d)
	s1, c1 := threadUsage(s.tid), threadUsage(c.tid)
	n1, t1 := rts.Load(), time.Now()
	measuring.Store(true) // the client stops at its next round trip
	if err := <-clientDone; err != nil {
		<-serverDone
		return floorResult{}, err
	}
	if err := <-serverDone; err != nil {
		return floorResult{}, err
	}
	n := float64(n1 - n0)
	if n <= 0 || s0.err != nil || s1.err != nil || c0.err != nil || c1.err != nil {
		return floorResult{}, errors.Join(errors.New("no round trip measured"), s0.err, s1.err, c0.err, c1.err)
	}
	return floorResult{
		Wait:        wait,
		RoundTrips:  n1 - n0,
		WallUs:      float64(t1.Sub(t0).Microseconds()) / n,
		ServerCPUUs: float64(s1.runNs-s0.runNs) / 1e3 / n,
		ServerCtxsw: float64(s1.ctxsw-s0.ctxsw) / n,
		ClientCPUUs: float64(c1.runNs-c0.runNs) / 1e3 / n,
	}, nil
}

// loopbackPair returns the two ends of one blocking loopback TCP connection
// with TCP_NODELAY set on both, as every server of the lab sets it.
func loopbackPair() (client, server int, err error) {
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, os.NewSyscallError("socket", err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return -1, -1, os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(lfd, 1); err != nil {
		return -1, -1, os.NewSyscallError("listen", err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		return -1, -1, os.NewSyscallError("getsockname", err)
	}
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, os.NewSyscallError("socket", err)
	}
	if err := unix.Connect(cfd, sa); err != nil {
		unix.Close(cfd)
		return -1, -1, os.NewSyscallError("connect", err)
	}
	sfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		unix.Close(cfd)
		return -1, -1, os.NewSyscallError("accept4", err)
	}
	for _, fd := range []int{cfd, sfd} {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			unix.Close(cfd)
			unix.Close(sfd)
			return -1, -1, os.NewSyscallError("setsockopt", err)
		}
	}
	return cfd, sfd, nil
}

// pinThread locks the calling goroutine to its thread and the thread to cpu.
func pinThread(cpu int) (int, error) {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return 0, os.NewSyscallError("sched_setaffinity", err)
	}
	return unix.Gettid(), nil
}

// floorServer answers each request with the 200 response until the client
// closes. Its calls are raw: the thread keeps its P while it sleeps, so the
// runtime takes no part in a round trip.
func floorServer(fd int, wait string, cpu int, up func(int, error)) error {
	tid, err := pinThread(cpu)
	if err != nil {
		up(0, err)
		return err
	}
	epfd := -1
	if wait == "epoll" {
		if epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
			up(0, os.NewSyscallError("epoll_create1", err))
			return err
		}
		defer unix.Close(epfd)
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			up(0, os.NewSyscallError("epoll_ctl", err))
			return err
		}
	}
	up(tid, nil)
	buf := make([]byte, 4096)
	var events [1]unix.EpollEvent
	for {
		if epfd >= 0 {
			_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), 1, ^uintptr(0), 0, 0)
			if errno == unix.EINTR {
				continue // the runtime's preemption signal: wait again
			}
			if errno != 0 {
				return os.NewSyscallError("epoll_wait", errno)
			}
		}
		// A request nearly always arrives in one read; a split one is read
		// to its end before the answer.
		for got := 0; got < len(floorRequest); {
			n, errno := rawIO(unix.SYS_READ, fd, buf[got:])
			switch {
			case errno != 0:
				return os.NewSyscallError("read", errno)
			case n == 0:
				return nil // the client is done
			}
			got += n
		}
		if _, errno := rawIO(unix.SYS_WRITE, fd, proto.OK); errno != 0 {
			return os.NewSyscallError("write", errno)
		}
	}
}

// floorClient sends a request and reads the whole response, again and
// again, until done is set or stop passes, then closes its side.
func floorClient(fd, cpu int, rts *atomic.Int64, done *atomic.Bool, stop time.Time, up func(int, error)) error {
	tid, err := pinThread(cpu)
	if err != nil {
		up(0, err)
		return err
	}
	up(tid, nil)
	defer unix.Shutdown(fd, unix.SHUT_WR)
	buf := make([]byte, 4096)
	for i := 0; ; i++ {
		if _, errno := rawIO(unix.SYS_WRITE, fd, floorRequest); errno != 0 {
			return os.NewSyscallError("write", errno)
		}
		got := 0
		for got < len(proto.OK) {
			n, errno := rawIO(unix.SYS_READ, fd, buf[got:])
			if errno != 0 {
				return os.NewSyscallError("read", errno)
			}
			if n == 0 {
				return errors.New("the server closed the connection")
			}
			got += n
		}
		if !bytes.Equal(buf[:got], proto.OK) {
			return fmt.Errorf("response %q, want the 200", buf[:got])
		}
		rts.Add(1)
		if i%64 == 0 && (done.Load() || time.Now().After(stop)) {
			return nil
		}
	}
}

// rawIO makes one read or write on a blocking socket through RawSyscall, so
// the thread keeps its P while the call sleeps.
func rawIO(trap uintptr, fd int, b []byte) (int, unix.Errno) {
	for {
		n, _, errno := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		if errno == unix.EINTR {
			continue // the runtime's preemption signal ended the sleep: call again
		}
		return int(n), errno
	}
}

// threadUse is one thread's run time and context switches so far.
type threadUse struct {
	runNs, ctxsw uint64
	err          error
}

// threadUsage reads a thread of this process: its run time from schedstat
// (ns, not ticks) and its context switches from status.
func threadUsage(tid int) threadUse {
	sc, err := proc.TaskSched(os.Getpid(), tid)
	if err != nil {
		return threadUse{err: err}
	}
	st, err := proc.TaskStatus(os.Getpid(), tid)
	if err != nil {
		return threadUse{err: err}
	}
	return threadUse{runNs: uint64(sc.Run), ctxsw: st.Voluntary + st.Involuntary}
}
