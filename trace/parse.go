package trace

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Call is one system call as strace printed it, with an unfinished call and
// its resumption joined into one.
type Call struct {
	TID   int           // the thread that made the call
	Start time.Time     // when the call was entered
	Dur   time.Duration // time spent inside the call (strace -T)
	Name  string
	Args  []string // top-level arguments as strace printed them
	Ret   string   // the return value as printed ("18", "-1", "?")
	Errno string   // "EAGAIN", "ERESTARTSYS", ... or "" on success
}

// End is when the call returned.
func (c Call) End() time.Time { return c.Start.Add(c.Dur) }

// At is where the call belongs in a sequence: a call that blocked at the
// moment it returned (what woke it is what matters), any other when it was
// made (ptrace's own overhead inflates the duration of every call).
func (c Call) At() time.Time {
	if c.Dur >= time.Millisecond {
		return c.End()
	}
	return c.Start
}

// Result is the return value as a number; ok is false for "?" and the like.
func (c Call) Result() (n int64, ok bool) {
	n, err := strconv.ParseInt(c.Ret, 0, 64)
	return n, err == nil
}

// Arg is argument i, or "" when the call had fewer.
func (c Call) Arg(i int) string {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return ""
}

// WaitTimeout is an epoll wait's timeout: epoll_wait and epoll_pwait take
// milliseconds, epoll_pwait2 a timespec ({tv_sec=S, tv_nsec=N}, or NULL for
// none). forever reports a wait without a deadline; ok is false when the
// argument cannot be read.
func (c Call) WaitTimeout() (d time.Duration, forever, ok bool) {
	if c.Name != "epoll_pwait2" {
		ms, ok := c.IntArg(3)
		return time.Duration(ms) * time.Millisecond, ms < 0, ok
	}
	arg := c.Arg(3)
	if arg == "NULL" {
		return 0, true, true
	}
	m := timespecRE.FindStringSubmatch(arg)
	if m == nil {
		return 0, false, false
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	nsec, _ := strconv.ParseInt(m[2], 10, 64)
	return time.Duration(sec)*time.Second + time.Duration(nsec), false, true
}

var timespecRE = regexp.MustCompile(`^\{tv_sec=(\d+), tv_nsec=(\d+)\}$`)

// IntArg is argument i as a number.
func (c Call) IntArg(i int) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(c.Arg(i)), 0, 64)
	return n, err == nil
}

// pending is the first half of a call strace printed as "<unfinished ...>".
type pending struct {
	start time.Time
	name  string
	args  string
}

// Parse reads the output of `strace -f -ttt -T -o FILE`: each line starts
// with the thread id and the time in seconds since the epoch. Signal and
// exit lines are skipped; calls are returned in the order they returned.
func Parse(r io.Reader) ([]Call, error) {
	var calls []Call
	open := map[int]pending{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		c, ok, err := parseLine(sc.Text(), open)
		if err != nil {
			return nil, fmt.Errorf("strace output line %d: %w", line, err)
		}
		if ok {
			calls = append(calls, c)
		}
	}
	return calls, sc.Err()
}

func parseLine(s string, open map[int]pending) (Call, bool, error) {
	var c Call
	f := strings.Fields(s)
	if len(f) < 3 {
		return c, false, nil
	}
	tid, err := strconv.Atoi(f[0])
	if err != nil {
		return c, false, fmt.Errorf("thread id %q", f[0])
	}
	at, err := parseEpoch(f[1])
	if err != nil {
		return c, false, err
	}
	rest := strings.TrimLeft(s, " ")
	rest = strings.TrimLeft(rest[len(f[0]):], " ")
	rest = strings.TrimLeft(rest[len(f[1]):], " ")
	switch {
	case strings.HasPrefix(rest, "---"), strings.HasPrefix(rest, "+++"):
		return c, false, nil // a signal delivered or a thread's exit
	case strings.HasPrefix(rest, "<... "):
		end := strings.Index(rest, " resumed>")
		if end < 0 {
			return c, false, fmt.Errorf("resumed call without its name: %q", rest)
		}
		name := rest[len("<... "):end]
		p, ok := open[tid]
		if !ok || p.name != name {
			return c, false, nil // its start came before the trace began
		}
		delete(open, tid)
		tail := strings.TrimPrefix(rest[end+len(" resumed>"):], " <unfinished ...>")
		c, err = finish(tid, p.start, name, p.args+tail)
		return c, err == nil, err
	}
	paren := strings.IndexByte(rest, '(')
	if paren <= 0 {
		return c, false, fmt.Errorf("no call in %q", rest)
	}
	name := rest[:paren]
	body := rest[paren+1:]
	if cut, ok := strings.CutSuffix(body, "<unfinished ...>"); ok {
		open[tid] = pending{start: at, name: name, args: strings.TrimRight(cut, " ")}
		return c, false, nil
	}
	c, err = finish(tid, at, name, body)
	return c, err == nil, err
}

// finish parses "ARGS) = RET [ERRNO (text)] [<DUR>]".
func finish(tid int, at time.Time, name, body string) (Call, error) {
	c := Call{TID: tid, Start: at, Name: name}
	end := closingParen(body)
	if end < 0 {
		return c, fmt.Errorf("%s: unbalanced arguments %q", name, body)
	}
	c.Args = splitArgs(body[:end])
	tail := strings.TrimSpace(body[end+1:])
	if d := strings.LastIndexByte(tail, '<'); d >= 0 && strings.HasSuffix(tail, ">") {
		secs, err := strconv.ParseFloat(tail[d+1:len(tail)-1], 64)
		if err == nil {
			c.Dur = time.Duration(secs * float64(time.Second))
			tail = strings.TrimSpace(tail[:d])
		}
	}
	tail, ok := strings.CutPrefix(tail, "=")
	if !ok {
		return c, fmt.Errorf("%s: no result in %q", name, body)
	}
	f := strings.Fields(tail)
	if len(f) == 0 {
		return c, fmt.Errorf("%s: empty result", name)
	}
	c.Ret = f[0]
	if len(f) > 1 && strings.HasPrefix(f[1], "E") {
		c.Errno = f[1]
	}
	return c, nil
}

func parseEpoch(s string) (time.Time, error) {
	sec, frac, ok := strings.Cut(s, ".")
	if !ok {
		return time.Time{}, fmt.Errorf("time %q: want seconds.micros (strace -ttt)", s)
	}
	secs, err1 := strconv.ParseInt(sec, 10, 64)
	micros, err2 := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("time %q: want seconds.micros (strace -ttt)", s)
	}
	return time.Unix(secs, micros*1000), nil
}

// closingParen finds the parenthesis closing the argument list, skipping
// quoted strings (which strace escapes) and nested brackets.
func closingParen(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			i = skipString(s, i)
		case '(', '[', '{':
			depth++
		case ']', '}':
			depth--
		case ')':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// skipString returns the index of the quote closing the string opening at i.
func skipString(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(s)
}

// splitArgs splits at the commas outside strings and brackets.
func splitArgs(s string) []string {
	var out []string
	depth, from := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			i = skipString(s, i)
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[from:i]))
				from = i + 1
			}
		}
	}
	if last := strings.TrimSpace(s[from:]); last != "" || len(out) > 0 {
		out = append(out, last)
	}
	return out
}
