package epoll

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Signals that keep interrupting a wait, in any idle mode, do not push its
// deadline back: the wait returns once its timeout has passed, while the
// signals still come. Each signal makes epoll_pwait return EINTR (it is never restarted,
// whatever SA_RESTART says); a wait that started its whole timeout again
// after each one would never end while they last.
func TestWaitTimeoutSurvivesSignals(t *testing.T) {
	for _, mode := range idleModes {
		t.Run(mode, func(t *testing.T) { waitThroughSignals(t, newIdlePoller(t, mode)) })
	}
}

func waitThroughSignals(t *testing.T, p *poller) {
	const timeout = 200 // ms
	const storm = 5 * time.Second
	tid := make(chan int, 1)
	done := make(chan time.Duration, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		began := time.Now()
		n, err := p.wait(timeout)
		if err != nil || n != 0 {
			t.Errorf("wait = %d, %v; want 0 events", n, err)
		}
		done <- time.Since(began)
	}()
	target := <-tid
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	end := time.After(storm)
	for {
		select {
		case took := <-done:
			if took < timeout*time.Millisecond {
				t.Errorf("wait returned after %v, before its timeout", took)
			}
			return
		case <-tick.C:
			// SIGURG is the runtime's own preemption signal: its handler
			// ignores a signal it did not ask for.
			unix.Tgkill(unix.Getpid(), target, unix.SIGURG)
		case <-end:
			t.Errorf("wait(%d ms) still blocked after %v of signals every 20 ms", timeout, storm)
			<-done
			return
		}
	}
}
