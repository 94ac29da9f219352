package epoll

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

// BenchmarkServe measures a one-loop server over loopback, one op per
// request, in the matrix every server package shares (testnet.BenchServe),
// so benchstat can set the three side by side (see docs/performance.md).
func BenchmarkServe(b *testing.B) {
	benchMatrix(b, serve.TriggerLevel)
}

// BenchmarkServeEdge is BenchmarkServe with -trigger edge: every readiness
// event costs one more read, the one that returns EAGAIN.
func BenchmarkServeEdge(b *testing.B) {
	benchMatrix(b, serve.TriggerEdge)
}

func benchMatrix(b *testing.B, trigger string) {
	testnet.BenchServe(b, func(b *testing.B) string {
		cfg := testConfig()
		cfg.Trigger = trigger
		return testnet.Start(b, Start, cfg).Addr()
	})
}

// BenchmarkKernelFloor measures what the kernel charges for the system calls
// a request cannot avoid, with no event loop at all, on one goroutine:
//
//   - getppid: one system call that does nothing, so its cost is the entry
//     and exit alone;
//   - request: the client writes a request, the server reads it and sends
//     the response, the client reads it, over a loopback TCP pair with
//     TCP_NODELAY: the four calls of one request on both sides, with nobody
//     ever waiting. The server's share is roughly half.
//   - server/pipeline=N: the same with N requests in one write and N
//     responses in one write, timing the server's read and write alone
//     (server-ns/req). That is the least a saturated server pays per
//     request at that pipeline depth, whatever its model: on loopback its
//     write also runs the client's TCP receive, as it does under load.
//
// user-share is the user part of the process's CPU time over the run as
// /proc and getrusage account it. The loop does next to nothing in user
// space, so whatever share it shows is how this machine's tick accounting
// splits system calls, not work (see docs/performance.md).
func BenchmarkKernelFloor(b *testing.B) {
	b.Run("getppid", func(b *testing.B) {
		floorRun(b, func() { syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0) })
	})
	b.Run("request", func(b *testing.B) {
		client, server := tcpPair(b)
		req, resp := []byte(testnet.BenchGet), proto.OK
		buf := make([]byte, 4096)
		floorRun(b, func() {
			rawIO(b, syscall.SYS_WRITE, client, req)
			rawIO(b, syscall.SYS_READ, server, buf)
			rawIO(b, syscall.SYS_WRITE, server, resp)
			rawIO(b, syscall.SYS_READ, client, buf)
		})
	})
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("server/pipeline=%d", depth), func(b *testing.B) {
			client, server := tcpPair(b)
			req := []byte(strings.Repeat(testnet.BenchGet, depth))
			resp := bytes.Repeat(proto.OK, depth)
			buf := make([]byte, 64<<10)
			var spent time.Duration
			floorRun(b, func() {
				rawIO(b, syscall.SYS_WRITE, client, req)
				began := time.Now()
				readFull(b, server, buf[:len(req)])
				rawIO(b, syscall.SYS_WRITE, server, resp)
				spent += time.Since(began)
				readFull(b, client, buf[:len(resp)])
			})
			b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N*depth), "server-ns/req")
		})
	}
}

// readFull reads exactly len(p) bytes from a blocking socket fd.
func readFull(b *testing.B, fd int, p []byte) {
	for len(p) > 0 {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != 0 || n == 0 {
			b.Fatalf("read: %v, %d bytes", errno, n)
		}
		p = p[n:]
	}
}

// floorRun runs op b.N times, locked to its thread, and reports the user
// share of the process's CPU time.
func floorRun(b *testing.B, op func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	u0, s0 := testnet.ProcessTimes()
	for b.Loop() {
		op()
	}
	u1, s1 := testnet.ProcessTimes()
	if total := (u1 - u0) + (s1 - s0); total > 0 {
		b.ReportMetric(float64(u1-u0)/float64(total), "user-share")
	}
}

// rawIO makes one blocking read or write on a socket fd; the sockets of
// tcpPair are blocking, so every call completes.
func rawIO(b *testing.B, trap uintptr, fd int, p []byte) {
	if _, _, errno := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p))); errno != 0 {
		b.Fatal(errno)
	}
}

// tcpPair returns the fds of both ends of a loopback TCP connection, in
// blocking mode, with TCP_NODELAY on both.
func tcpPair(b *testing.B) (client, server int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	fds := make([]int, 2)
	for i, nc := range []net.Conn{c, s} {
		// File gives a duplicate of the socket in blocking mode.
		f, err := nc.(*net.TCPConn).File()
		nc.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		fd := int(f.Fd())
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
			b.Fatal(err)
		}
		fds[i] = fd
	}
	return fds[0], fds[1]
}
