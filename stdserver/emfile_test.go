package stdserver

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/testnet"
)

// When accept fails with EMFILE (the fds are used up by something else), the
// server keeps serving its open connections, does not spin, and accepts again
// once fds are free.
func TestAcceptEMFILE(t *testing.T) {
	testnet.NoLeaks(t)
	s := start(t, config())
	a := testnet.Dial(t, s.Addr())
	testnet.Send(t, a, get)
	testnet.Expect(t, a, proto.OK, 5*time.Second)

	// Lower the soft limit to just above the highest fd in use and fill the
	// holes below it, keeping one free for the client about to connect:
	// then the server's accept finds none.
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	lim := orig
	lim.Cur = uint64(highestFD(t) + 1)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	var fillers []*os.File
	restore := func() {
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig)
		for _, f := range fillers {
			f.Close()
		}
		fillers = nil
	}
	t.Cleanup(restore)
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, f)
	}
	if len(fillers) == 0 {
		t.Fatal("no fd free below the limit for the client")
	}
	fillers[len(fillers)-1].Close()
	fillers = fillers[:len(fillers)-1]
	b := testnet.Dial(t, s.Addr()) // the kernel completes the handshake; accept fails

	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for range 5 {
		testnet.Send(t, a, get)
		testnet.Expect(t, a, proto.OK, 5*time.Second)
		time.Sleep(200 * time.Millisecond)
	}
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	if cpu := cpuTime(after) - cpuTime(before); cpu > 500*time.Millisecond {
		t.Errorf("the process used %v of CPU in 1 s of failing accepts: the accept loop spins", cpu)
	}

	restore()
	testnet.Send(t, b, get)
	testnet.Expect(t, b, proto.OK, 5*time.Second)
}

func highestFD(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	high := 0
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n > high {
			high = n
		}
	}
	return high
}

func cpuTime(r syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
