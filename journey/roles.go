package journey

// Roles of the threads in a journey (the contract's names).
const (
	RoleClient    = "client"
	RoleLoop      = "loop"      // waits in epoll_wait on an epoll instance of its own and serves its connections
	RoleNetpoller = "netpoller" // a Go thread blocked in the runtime's netpoll with nothing else to run
	RoleSysmon    = "sysmon"    // the runtime's monitor: a usleep loop
	RoleGoroutine = "goroutine" // a Go thread running goroutines: their accepts, reads and writes
	RoleOther     = "other"
)

// roleStats is what one server thread did in the capture.
type roleStats struct {
	calls, sleeps, futexes int
	loopWaits              int // epoll waits on an epoll fd of the program's own
	unknownWaits           int // epoll waits entered before the capture: fd unknown
	waits                  int // epoll waits that returned
	netpolls               int // entries into runtime.netpoll (an uprobe)
	blockingPolls          int // of those and of the waits, the ones with a timeout
	connIO                 int // accepts, and reads and writes on an accepted fd
}

// inferRoles gives each server thread a role from what it did, by the
// rules `readiness trace` uses (trace/threads.go), with the netpoll uprobe
// as the evidence of the runtime's own epoll instance where trace reads
// the registrations' data words: an epoll wait entered right after an
// entry into runtime.netpoll on the same thread is the runtime's, and
// every other wait on that epoll fd too; a thread waiting on another
// epoll fd runs an event loop of its own.
func inferRoles(evs []Event, m Meta) map[int]string {
	stats := map[int]*roleStats{}
	accepted := map[int64]bool{}
	netpollProbe := false
	runtimeEpfd := map[int64]bool{}
	lastPoll, lastExit := map[int]int64{}, map[int]int64{}
	for _, e := range evs {
		switch {
		case e.PID != m.ServerPID:
		case e.Source == SourceUprobe && e.Name == "runtime.netpoll":
			lastPoll[e.TID] = e.ns
		case e.Source == SourceSyscall:
			if isWait(e.Name) && e.enterNS != 0 && lastPoll[e.TID] > lastExit[e.TID] && lastPoll[e.TID] <= e.enterNS {
				runtimeEpfd[intField(e.Args, "epfd")] = true
			}
			lastExit[e.TID] = e.ns
		}
	}
	ownEpoll := false
	for _, e := range evs {
		if e.PID != m.ServerPID {
			continue
		}
		s := stats[e.TID]
		if s == nil {
			s = &roleStats{}
			stats[e.TID] = s
		}
		if e.Source == SourceUprobe && e.Name == "runtime.netpoll" {
			netpollProbe = true
			s.netpolls++
			if intField(e.Args, "delay") != 0 {
				s.blockingPolls++
			}
		}
		if e.Source != SourceSyscall {
			continue
		}
		s.calls++
		ret := intField(e.Args, "ret")
		switch {
		case e.Name == "nanosleep" || e.Name == "clock_nanosleep":
			s.sleeps++
		case e.Name == "futex":
			s.futexes++
		case isWait(e.Name):
			s.waits++
			switch {
			case e.enterNS == 0:
				s.unknownWaits++
			case !runtimeEpfd[intField(e.Args, "epfd")]:
				s.loopWaits++
				ownEpoll = true
			}
			if t, ok := e.Args["timeout_ms"].(int64); ok && t != 0 {
				s.blockingPolls++
			}
		case e.Name == "accept4" || e.Name == "accept":
			s.connIO++
			if ret >= 0 {
				accepted[ret] = true
			}
		case isRead(e.Name) || isWrite(e.Name):
			if accepted[intField(e.Args, "fd")] {
				s.connIO++
			}
		}
	}
	roles := map[int]string{}
	sysmon, most := 0, 0
	for tid, s := range stats {
		if ownEpoll && s.netpolls == 0 && s.connIO > 0 {
			// The program waits on epoll fds of its own: a wait of
			// unknown fd on a thread that serves connections and never
			// enters netpoll is one of them.
			s.loopWaits += s.unknownWaits
		}
		roles[tid] = s.role(netpollProbe)
		// Only one thread is sysmon: the one that sleeps most; others
		// sleep briefly while spinning for work.
		if roles[tid] == RoleSysmon && s.sleeps > most {
			sysmon, most = tid, s.sleeps
		}
	}
	for tid, r := range roles {
		if r == RoleSysmon && tid != sysmon {
			roles[tid] = RoleOther
		}
	}
	return roles
}

func (s *roleStats) role(netpollProbe bool) string {
	switch {
	case s.loopWaits > 0 && netpollProbe:
		return RoleLoop
	case s.waits > 0 && !netpollProbe && s.connIO > 0:
		// Without the uprobe a Go thread polling and serving looks the
		// same as a loop: the role is a guess.
		return RoleLoop
	case s.sleeps > 0 && s.connIO == 0 && s.sleeps*2 >= s.calls-s.futexes:
		return RoleSysmon
	case s.connIO > 0:
		return RoleGoroutine
	case s.netpolls > 0 || s.blockingPolls > 0:
		return RoleNetpoller
	}
	return RoleOther
}

// isWait reports an epoll wait.
func isWait(name string) bool {
	return name == "epoll_wait" || name == "epoll_pwait" || name == "epoll_pwait2"
}
