package trace

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Thread is one thread of the traced server and the role its calls show.
type Thread struct {
	Label string `json:"label"` // "T1", "T2", ... in order of first appearance
	TID   int    `json:"tid"`
	Role  string `json:"role"`
	Calls int    `json:"calls"` // calls in the traced window
}

// Roles, inferred from what a thread does.
const (
	RoleSysmon   = "sysmon"
	RoleLoop     = "event loop"
	RoleAcceptor = "acceptor loop"
	RoleMPoll    = "M: goroutines + netpoll"
	RoleM        = "M: goroutines"
	RolePoller   = "M: netpoll"
	RoleIdle     = "idle M"
)

// roleHelp explains each role in a sentence, for the legend.
var roleHelp = map[string]string{
	RoleSysmon:   "the runtime's monitor thread: sleeps in a usleep loop, polls the network if nobody has for 10 ms",
	RoleLoop:     "waits in epoll_wait on its own epoll instance and does every read and write itself",
	RoleAcceptor: "waits in epoll_wait for the listener and hands accepted connections to a loop",
	RoleMPoll:    "a Go thread running goroutines; when none is runnable it blocks in the runtime's netpoll (findRunnable)",
	RoleM:        "a Go thread running goroutines (their reads, writes and accepts)",
	RolePoller:   "a Go thread with nothing to run, blocked in the runtime's netpoll until a socket is ready",
	RoleIdle:     "a Go thread with nothing to do: it may spin briefly looking for work, then sleeps on a futex",
}

type threadStats struct {
	first                                time.Time
	calls, sleeps, loopWaits, blockPolls int
	accepts, connIO, futexes, otherCalls int
}

// classify infers each thread's role from its calls between from and to.
func classify(calls []Call, fds *fdTable, from, to time.Time) []Thread {
	stats := map[int]*threadStats{}
	for i, c := range calls {
		fds.open(i, c)
		inWindow := !c.At().Before(from) && c.At().Before(to)
		if inWindow {
			count(stats, c, fds)
		}
		fds.release(c)
	}
	return threadsOf(stats)
}

func count(stats map[int]*threadStats, c Call, fds *fdTable) {
	{
		s := stats[c.TID]
		if s == nil {
			s = &threadStats{first: c.At()}
			stats[c.TID] = s
		}
		s.calls++
		switch c.Name {
		case "nanosleep", "clock_nanosleep":
			s.sleeps++
		case "epoll_wait", "epoll_pwait", "epoll_pwait2":
			ep, _ := c.IntArg(0)
			if fds.get(ep).kind == fdEpoll {
				s.loopWaits++
			} else if t, ok := c.IntArg(3); ok && t != 0 {
				s.blockPolls++
			}
		case "accept4", "accept":
			s.accepts++
		case "read", "write", "writev", "readv", "recvfrom", "sendto", "sendmsg", "recvmsg":
			if f, ok := c.IntArg(0); ok && fds.get(f).kind == fdConn {
				s.connIO++
			} else {
				s.otherCalls++
			}
		case "futex":
			s.futexes++
		default:
			s.otherCalls++
		}
	}
}

func threadsOf(stats map[int]*threadStats) []Thread {
	tids := make([]int, 0, len(stats))
	for tid := range stats {
		tids = append(tids, tid)
	}
	sort.Slice(tids, func(i, j int) bool { return stats[tids[i]].first.Before(stats[tids[j]].first) })
	// Only one thread is sysmon: the one that sleeps most. Other Go threads
	// sleep briefly too (usleep while spinning for work).
	sysmon, most := 0, 0
	for tid, s := range stats {
		if s.role() == RoleSysmon && s.sleeps > most {
			sysmon, most = tid, s.sleeps
		}
	}
	out := make([]Thread, len(tids))
	for i, tid := range tids {
		s := stats[tid]
		role := s.role()
		if role == RoleSysmon && tid != sysmon {
			role = RoleIdle
		}
		out[i] = Thread{Label: fmt.Sprintf("T%d", i+1), TID: tid, Role: role, Calls: s.calls}
	}
	return out
}

func (s *threadStats) role() string {
	switch {
	case s.loopWaits > 0 && s.connIO == 0 && s.accepts > 0:
		return RoleAcceptor
	case s.loopWaits > 0:
		return RoleLoop
	case s.sleeps > 0 && s.connIO == 0 && s.accepts == 0 && s.sleeps*2 >= s.calls-s.futexes:
		return RoleSysmon
	case (s.connIO > 0 || s.accepts > 0) && s.blockPolls > 0:
		return RoleMPoll
	case s.connIO > 0 || s.accepts > 0:
		return RoleM
	case s.blockPolls > 0:
		return RolePoller
	}
	return RoleIdle
}

// legend lists the threads with their roles.
func legend(threads []Thread) string {
	var b strings.Builder
	for _, t := range threads {
		fmt.Fprintf(&b, "  %-3s tid %-7d %-24s %s\n", t.Label, t.TID, t.Role, roleHelp[t.Role])
	}
	return b.String()
}
