package trace

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// render shows a call compactly: fds with their names, the arguments that
// matter, the result with its errno, and how long it blocked.
func (n *noter) render(c Call) string {
	fdArg := func(i int) string {
		if f, ok := c.IntArg(i); ok {
			return n.fds.label(f)
		}
		return c.Arg(i)
	}
	var args string
	switch c.Name {
	case "read", "recvfrom":
		args = fdArg(0) + ", " + c.Arg(2)
	case "write", "sendto":
		args = fdArg(0) + ", " + c.Arg(2)
	case "accept4", "accept", "close", "listen", "getsockname", "shutdown":
		args = fdArg(0)
		if c.Name == "listen" {
			args += ", " + c.Arg(1)
		}
	case "socket":
		args = strings.Join(c.Args, ", ")
	case "setsockopt":
		args = fdArg(0) + ", " + c.Arg(2) + ", " + c.Arg(3)
	case "bind":
		args = fdArg(0) + ", " + sockaddr(c.Arg(1))
	case "epoll_ctl":
		op := strings.TrimPrefix(c.Arg(1), "EPOLL_CTL_")
		args = fdArg(0) + ", " + op + ", " + fdArg(2)
		if m := eventMask(c.Arg(3)); m != "" {
			args += ", " + m
		}
	case "epoll_wait", "epoll_pwait", "epoll_pwait2":
		args = fdArg(0) + ", timeout " + c.Arg(3)
		if d, forever, ok := c.WaitTimeout(); c.Name == "epoll_pwait2" && ok && !forever {
			args = fdArg(0) + ", timeout " + d.String()
		}
	case "futex":
		args = c.Arg(0) + ", " + strings.TrimSuffix(strings.TrimPrefix(c.Arg(1), "FUTEX_"), "_PRIVATE")
	case "nanosleep", "clock_nanosleep":
		args = sleepArg(c)
	default:
		args = shorten(strings.Join(c.Args, ", "), 40)
	}
	s := c.Name + "(" + args + ") = " + c.Ret
	if c.Errno != "" {
		s += " " + c.Errno
	}
	switch c.Name {
	case "read", "recvfrom":
		if r, ok := c.Result(); ok && r > 0 {
			s += " " + shorten(c.Arg(1), 24)
		}
	case "epoll_wait", "epoll_pwait", "epoll_pwait2":
		ep, _ := c.IntArg(0)
		var ready []string
		for _, e := range n.fds.readyEvents(ep, c.Arg(1)) {
			ready = append(ready, n.fds.label(e.fd)+" "+strings.ReplaceAll(e.events, "EPOLL", ""))
		}
		if len(ready) > 0 {
			s += " [" + strings.Join(ready, "; ") + "]"
		}
	}
	if c.Dur >= time.Millisecond {
		s += fmt.Sprintf(" <%s>", round(c.Dur))
	}
	return s
}

var (
	tvRE   = regexp.MustCompile(`tv_sec=(\d+), tv_nsec=(\d+)`)
	addrRE = regexp.MustCompile(`(?:inet_addr|inet_pton\(AF_INET6,)\s*\(?"([^"]+)"`)
)

func sleepArg(c Call) string {
	m := tvRE.FindStringSubmatch(strings.Join(c.Args, ", "))
	if m == nil {
		return shorten(strings.Join(c.Args, ", "), 30)
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	nsec, _ := strconv.ParseInt(m[2], 10, 64)
	return (time.Duration(sec)*time.Second + time.Duration(nsec)).String()
}

func sockaddr(s string) string {
	port := portRE.FindStringSubmatch(s)
	addr := addrRE.FindStringSubmatch(s)
	if port == nil || addr == nil {
		return shorten(s, 30)
	}
	return addr[1] + ":" + port[1]
}

// shorten cuts s to about max characters, marking the cut.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:max-1] + "…"
}
