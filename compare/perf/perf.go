// Package perf counts the system calls a running process makes, with
// `perf stat` on the raw_syscalls:sys_enter tracepoint: one event per
// system call entered, by any thread of the process, including threads
// created after perf attached.
//
// perf attaches with its events disabled and is told to enable and
// disable them through a control pipe, so the count covers exactly the
// window between Enable and Disable and not perf's own start-up, which
// takes a good fraction of a second.
//
// While perf runs, the kernel takes its traced path on every system call
// of every process, which adds a little system time to each; the servers
// compared all pay the same.
package perf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Event is the tracepoint counted.
const Event = "raw_syscalls:sys_enter"

// answerTimeout bounds each wait for perf: its start-up, an
// acknowledgement, its exit after SIGINT.
const answerTimeout = 10 * time.Second

// Unavailable is the error when perf cannot count here: not installed, or
// refused by the kernel (perf_event_paranoid, a missing tracepoint, no
// permission to trace the process). Reason says which, for a note.
type Unavailable struct{ Reason string }

func (u *Unavailable) Error() string { return u.Reason }

// Counter is a perf stat process attached to one target.
type Counter struct {
	cmd    *exec.Cmd
	ctl    *os.File // our end of perf's control pipe: we write commands
	ack    *os.File // our end of perf's acknowledgement pipe
	stderr *bytes.Buffer
	exited chan error // receives cmd.Wait's result once
	err    error      // Wait's result after exited was drained
	done   bool
}

// Start attaches perf stat to process pid with its counting disabled and
// returns once perf is ready. An *Unavailable error says why perf cannot
// count; other errors are failures of this machine (pipes, processes).
func Start(pid int) (*Counter, error) {
	path, err := exec.LookPath("perf")
	if err != nil {
		return nil, &Unavailable{Reason: "perf is not installed (not in PATH): install linux-perf to count system calls"}
	}
	ctlRead, ctlWrite, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ackRead, ackWrite, err := os.Pipe()
	if err != nil {
		ctlRead.Close()
		ctlWrite.Close()
		return nil, err
	}
	c := &Counter{ctl: ctlWrite, ack: ackRead, stderr: new(bytes.Buffer), exited: make(chan error, 1)}
	// ExtraFiles[i] is the child's fd 3+i.
	c.cmd = exec.Command(path, "stat", "-x,", "-e", Event, "-p", strconv.Itoa(pid),
		"-D", "-1", "--control", "fd:3,4")
	c.cmd.ExtraFiles = []*os.File{ctlRead, ackWrite}
	c.cmd.Stderr = c.stderr
	err = c.cmd.Start()
	ctlRead.Close()
	ackWrite.Close()
	if err != nil {
		c.ctl.Close()
		c.ack.Close()
		return nil, &Unavailable{Reason: "perf did not start: " + err.Error()}
	}
	go func() { c.exited <- c.cmd.Wait() }()

	// perf reads its control pipe only once its events are open: an
	// answer to ping means it is attached and ready.
	if err := c.command("ping"); err != nil {
		c.kill()
		return nil, &Unavailable{Reason: "perf stat " + Event + " refused: " + c.why(err)}
	}
	return c, nil
}

// Enable starts counting.
func (c *Counter) Enable() error { return c.command("enable") }

// Disable stops counting.
func (c *Counter) Disable() error { return c.command("disable") }

// Stop ends perf and returns the system calls counted while enabled.
func (c *Counter) Stop() (uint64, error) {
	defer c.ctl.Close()
	defer c.ack.Close()
	if !c.done {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case c.err = <-c.exited:
		case <-time.After(answerTimeout):
			c.kill()
			return 0, errors.New("perf stat did not exit after SIGINT")
		}
		c.done = true
	}
	// perf exits nonzero after SIGINT on some versions; the output decides.
	n, err := Parse(c.stderr.Bytes())
	if err != nil {
		return 0, fmt.Errorf("%w (perf exit: %v)", err, c.err)
	}
	return n, nil
}

// Close ends perf without reading its count.
func (c *Counter) Close() {
	c.kill()
	c.ctl.Close()
	c.ack.Close()
}

// command sends one control command and waits for perf's "ack".
func (c *Counter) command(cmd string) error {
	if c.done {
		return errors.New("perf has exited")
	}
	if _, err := c.ctl.WriteString(cmd + "\n"); err != nil {
		return fmt.Errorf("perf control %s: %w", cmd, err)
	}
	c.ack.SetReadDeadline(time.Now().Add(answerTimeout))
	buf := make([]byte, 64)
	var got []byte
	for !bytes.Contains(got, []byte("ack\n")) {
		n, err := c.ack.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return fmt.Errorf("perf control %s: no acknowledgement: %w", cmd, err)
		}
	}
	return nil
}

// kill ends perf at once and reaps it.
func (c *Counter) kill() {
	if c.done {
		return
	}
	c.cmd.Process.Kill()
	select {
	case c.err = <-c.exited:
	case <-time.After(answerTimeout):
	}
	c.done = true
}

// why explains a failed start from perf's own words when it left any.
func (c *Counter) why(err error) string {
	if !c.done {
		return err.Error()
	}
	for line := range strings.Lines(c.stderr.String()) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "Usage:") {
			return line
		}
	}
	return err.Error()
}
