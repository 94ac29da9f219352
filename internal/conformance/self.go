package conformance

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/child"
	"github.com/readinesslab/readiness/internal/proc"
)

// self is this test binary run again as a child process, running only the
// current subtest with an environment variable that tells it which side of
// the case it plays: a server under an open-file limit of its own, or ten
// thousand clients whose descriptors would not fit beside the server's.
// The child prints a line that begins with a marker the parent waits for,
// and runs until its stdin closes.
type self struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	marker string
	lines  chan string       // the rest of the child's lines that begin with marker
	out    *child.SyncBuffer // all it printed, for failure messages
	done   chan struct{}     // closed once it has exited
}

// startSelf starts the child with env (NAME=value) added to this process's
// environment, to print a line that begins with marker; the test's end
// kills it if it still runs.
func startSelf(t *testing.T, env, marker string) *self {
	t.Helper()
	s := &self{marker: marker, lines: make(chan string, 4), out: &child.SyncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.v", "-test.count=1", "-test.timeout=5m")
	s.cmd.Env = append(os.Environ(), env)
	s.cmd.Stderr = s.out
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start the child process: %v", err)
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.out.Write(append(sc.Bytes(), '\n'))
			if rest, ok := strings.CutPrefix(sc.Text(), s.marker); ok {
				select {
				case s.lines <- rest:
				default: // a marked line nobody waits for
				}
			}
		}
		s.cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// await waits up to d for the child's next marked line and returns the
// rest of it.
func (s *self) await(d time.Duration) (string, error) {
	select {
	case rest := <-s.lines:
		return rest, nil
	case <-s.done:
		select {
		case rest := <-s.lines:
			return rest, nil
		default:
		}
		return "", fmt.Errorf("the child process ended before printing %q:%s", s.marker, s.output())
	case <-time.After(d):
		return "", fmt.Errorf("the child process did not print %q within %v:%s", s.marker, d, s.output())
	}
}

func (s *self) pid() int { return s.cmd.Process.Pid }

// cpuTime returns a function that reads the child's CPU time so far.
func (s *self) cpuTime(t *testing.T) func() time.Duration {
	return func() time.Duration {
		st, err := proc.ReadStat(s.pid())
		if err != nil {
			t.Errorf("read the child's CPU time: %v", err)
			return 0
		}
		return st.CPU()
	}
}

// output is what the child printed, for a failure message.
func (s *self) output() string {
	return "\nthe child process printed:\n" + s.out.String()
}

// stop closes the child's stdin, so it ends its side and exits, and
// requires a clean exit within 15 s.
func (s *self) stop(t *testing.T) {
	t.Helper()
	s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the child process still runs 15s after it was told to stop%s", s.output())
	}
	if !s.cmd.ProcessState.Success() {
		t.Errorf("the child process: %v%s", s.cmd.ProcessState, s.output())
	}
}

// readStdin is the child's side of stop: it returns once the parent closes
// the child's stdin.
func readStdin() { io.Copy(io.Discard, os.Stdin) }

// runPattern is the -test.run pattern that selects exactly the test named.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
