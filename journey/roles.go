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
	waits                  int // epoll waits that returned
	netpolls               int // entries into runtime.netpoll (an uprobe)
	blockingPolls          int // of those and of the waits, the ones with a timeout
	connIO                 int // accepts, and reads and writes on an accepted fd
}

// inferRoles gives each server thread a role from what it did, by the
// rules `readiness trace` uses (trace/threads.go), with the netpoll uprobe
// as the evidence of the runtime's own epoll waits where trace reads the
// registrations' data words: a thread whose epoll waits never follow an
// entry into runtime.netpoll runs an event loop of its own.
func inferRoles(evs []Event, m Meta) map[int]string {
	stats := map[int]*roleStats{}
	accepted := map[int64]bool{}
	netpollProbe := false
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
		case e.Name == "epoll_wait" || e.Name == "epoll_pwait" || e.Name == "epoll_pwait2":
			s.waits++
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
	case s.waits > 0 && netpollProbe && s.netpolls == 0:
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
