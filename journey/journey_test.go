package journey

import (
	"strings"
	"testing"
)

func TestParseScript(t *testing.T) {
	text := `            curl 15911/15911 [001]   324.286397123:    net:netif_receive_skb: dev=lo skbaddr=0xffff88810242f000 len=52
    jr-readiness 15689/15694 [000]   324.267683000:       raw_syscalls:sys_enter: NR 281 (6, 7fe87973b584, 80, ffffffffffffffff, 0, 0)
    jr-readiness 15689/15694 [000]   324.267685000:        raw_syscalls:sys_exit: NR 281 = -11
 kworker/0:2-rcu   628/628   [000]   324.190664000:       sched:sched_waking: comm=tokio-rt-worker pid=98 prio=110 target_cpu=000
            curl 15911/15911 [001]   324.286442000:           napi:napi_poll: napi poll on napi struct 0xffff888627d31308 for device veth0 work 1 budget 64
            curl 15911/15911 [001]   324.286443000:         irq:softirq_exit: vec=3 [action=NET_RX]
       readiness  7275/7276  [000]   867.169805160:     readiness77:netpoll: (44b0c0) delay=-1
`
	samples, err := ParseScript(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 7 {
		t.Fatalf("got %d samples, want 7", len(samples))
	}
	s := samples[0]
	if s.Comm != "curl" || s.PID != 15911 || s.CPU != 1 || s.NS != 324286397123 || s.Event != "net:netif_receive_skb" {
		t.Errorf("first sample %+v", s)
	}
	checks := []struct {
		i     int
		field string
		want  any
	}{
		{0, "dev", "lo"}, {0, "len", int64(52)},
		{1, "id", int64(281)}, {1, "a0", int64(6)}, {1, "a3", int64(-1)},
		{2, "ret", int64(-11)},
		{3, "pid", int64(98)}, {3, "comm", "tokio-rt-worker"},
		{4, "dev", "veth0"}, {4, "work", int64(1)},
		{5, "action", "NET_RX"}, {5, "vec", int64(3)},
		{6, "delay", int64(-1)},
	}
	for _, c := range checks {
		if got := samples[c.i].Fields()[c.field]; got != c.want {
			t.Errorf("sample %d field %s = %v (%T), want %v", c.i, c.field, got, got, c.want)
		}
	}
	if _, err := ParseScript(strings.NewReader("garbage [000] line without shape\n")); err == nil {
		t.Error("a malformed sample line parsed without error")
	}
}

// load builds the timeline of a fixture under testdata: a real capture
// (readiness journey -raw), trimmed to the events of the two processes.
func load(t *testing.T, name string) *Timeline {
	t.Helper()
	c, err := LoadCapture("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := c.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func TestTimelineKeyPath(t *testing.T) {
	for _, name := range []string{"std-lo", "epoll-lo", "gnet-lo", "std-veth"} {
		t.Run(name, func(t *testing.T) {
			tl := load(t, name)
			r := tl.Result(nil)
			for i := 1; i < len(r.Events); i++ {
				if r.Events[i].TUS < r.Events[i-1].TUS {
					t.Fatalf("events out of order at %d: %v after %v", i, r.Events[i].TUS, r.Events[i-1].TUS)
				}
			}
			steps, err := KeyPath(r, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range steps {
				e := r.Events[s.Index]
				t.Logf("%9.1f %-10s %s", e.TUS, e.Role, e.Describe())
			}
			if len(r.Summary.Requests) != 2 {
				t.Fatalf("%d requests in the summary, want 2", len(r.Summary.Requests))
			}
			p := r.Summary.Requests[1]
			if p.TotalUS == nil || p.WakeUS == nil || p.ClientSendUS == nil {
				t.Errorf("request 2's path is incomplete: %+v", p)
			}
		})
	}
}

func TestTimelineFirstWriteIsZero(t *testing.T) {
	r := load(t, "std-lo").Result(nil)
	for _, e := range r.Events {
		if e.Role == RoleClient && e.Source == SourceSyscall && e.Name == "write" {
			if enter := e.Args["enter_us"]; enter != 0.0 {
				t.Errorf("the client's first write entered at %v µs, want 0", enter)
			}
			return
		}
	}
	t.Fatal("no client write")
}

func TestRoles(t *testing.T) {
	want := map[string][]string{
		"std-lo":   {RoleGoroutine},
		"epoll-lo": {RoleLoop},
		"gnet-lo":  {RoleLoop},
	}
	for name, roles := range want {
		tl := load(t, name)
		have := map[string]bool{}
		for _, r := range tl.Roles {
			have[r] = true
		}
		for _, r := range roles {
			if !have[r] {
				t.Errorf("%s: no thread with role %s: %v", name, r, tl.Roles)
			}
		}
		if name == "std-lo" && have[RoleLoop] {
			t.Errorf("std has a loop thread: %v", tl.Roles)
		}
	}
}

func TestVethNAPI(t *testing.T) {
	tl := load(t, "std-veth")
	for _, e := range tl.Events {
		if e.Name == "napi:napi_poll" && strField(e.Args, "dev") == tl.Meta.Devs[0] {
			return
		}
	}
	t.Fatalf("no napi_poll on the server's veth end %s", tl.Meta.Devs[0])
}

func TestHerd(t *testing.T) {
	shared := load(t, "epoll-shared-conns20").Summarize().Herd
	exclusive := load(t, "epoll-exclusive-conns20").Summarize().Herd
	for name, h := range map[string]*Herd{"shared": shared, "exclusive": exclusive} {
		if h == nil || h.Accepted != 20 {
			t.Fatalf("%s: %+v, want 20 accepted", name, h)
		}
		t.Logf("%s: %.2f wake-ups, %.2f returns, %.2f accept calls per accept; %d empty, %d absorbed",
			name, h.WakeupsPer, h.ReturnsPer, h.AcceptsPer, h.EmptyWakes, h.Absorbed)
	}
	if shared.WakeupsPer <= exclusive.WakeupsPer*1.5 {
		t.Errorf("shared wakes %.2f loop threads per accept, exclusive %.2f: want clearly more", shared.WakeupsPer, exclusive.WakeupsPer)
	}
	if len(exclusive.Loops) == 0 || exclusive.Loops[0].Accepts == 0 {
		t.Errorf("exclusive: no loop accepted: %+v", exclusive.Loops)
	}
}

// TestIncompleteCapture cuts a real capture after the first response: the
// timeline must say it is incomplete rather than pass for a whole journey.
func TestIncompleteCapture(t *testing.T) {
	c, err := LoadCapture("testdata/std-lo")
	if err != nil {
		t.Fatal(err)
	}
	whole, err := c.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	if err := whole.Complete(); err != nil {
		t.Fatalf("the whole capture: %v", err)
	}
	// The second request comes after the client's 50 ms pause: keep
	// the lines of the first 40 ms.
	cut := whole.t0 + 40_000_000
	var kept []string
	for _, line := range strings.Split(c.Script, "\n") {
		s, err := ParseScript(strings.NewReader(line))
		if err != nil || len(s) == 0 || s[0].NS < cut {
			kept = append(kept, line)
		}
	}
	c.Script = strings.Join(kept, "\n")
	part, err := c.Timeline()
	if err != nil {
		t.Fatal(err)
	}
	if err := part.Complete(); err == nil {
		t.Fatal("a capture cut after the first request passes for complete")
	} else {
		t.Log(err)
	}
}
