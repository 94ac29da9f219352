package load

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/serve"
)

// Config is one run of the generator. Zero fields take their defaults.
type Config struct {
	Addr     string        // HOST:PORT of a loopback server; HOST is an IP or "localhost"
	Conns    int           // connections (default 50)
	Duration time.Duration // measured window (default 10s)
	Warmup   time.Duration // load before the window, not counted
	Pipeline int           // requests in flight per connection (default 1)
	Rate     float64       // requests/s over all connections; 0: closed loop, as fast as it can
	Threads  int           // event loops, each on its own OS thread; 0: CPUs this process may run on, at most Conns
	Timeout  time.Duration // a response not complete this long after its (intended) send is a timeout (default 2s)

	// Target, if set, is the one address besides loopback that Addr may
	// name: the server's end of a network namespace pair this program
	// made, reached only from inside its partner namespace.
	Target string
	// Enter, if set, runs each event loop: it must call run and return
	// its error, for instance on a thread switched into a network
	// namespace, so that every socket the loop opens belongs there.
	Enter func(run func() error) error
	// OnWindow, if set, is called when the measured window begins (true)
	// and when it ends (false), so a caller can measure the server over
	// exactly that window. It runs on Run's goroutine, not in a loop.
	OnWindow func(begin bool)
}

// Defaults.
const (
	DefaultConns    = 50
	DefaultDuration = 10 * time.Second
	DefaultPipeline = 1
	DefaultTimeout  = 2 * time.Second
)

// ErrNotLoopback is returned for a target outside the loopback range: the
// generator only ever loads servers on this machine.
var ErrNotLoopback = errors.New("not a loopback address (only 127.0.0.0/8, ::1 and localhost are allowed)")

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Conns == 0 {
		c.Conns = DefaultConns
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Pipeline == 0 {
		c.Pipeline = DefaultPipeline
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Threads == 0 {
		c.Threads = serve.AvailableCPUs()
	}
	if c.Threads > c.Conns {
		c.Threads = c.Conns
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Conns < 1:
		return fmt.Errorf("connections must be at least 1, not %d", c.Conns)
	case c.Duration < 0:
		return fmt.Errorf("duration must not be negative, not %v", c.Duration)
	case c.Warmup < 0:
		return fmt.Errorf("warmup must not be negative, not %v", c.Warmup)
	case c.Pipeline < 1:
		return fmt.Errorf("pipeline must be at least 1, not %d", c.Pipeline)
	case c.Rate < 0 || c.Rate != c.Rate:
		return fmt.Errorf("rate must be 0 (as fast as possible) or positive, not %v", c.Rate)
	case c.Threads < 1:
		return fmt.Errorf("threads must be at least 1, not %d", c.Threads)
	case c.Timeout < 0:
		return fmt.Errorf("timeout must not be negative, not %v", c.Timeout)
	}
	return nil
}

// ParseAddr checks that addr is HOST:PORT on the loopback range and
// returns it resolved. HOST is an IP address or "localhost" (127.0.0.1);
// other names are refused rather than looked up. The error wraps
// ErrNotLoopback when the host is a valid address off this machine.
func ParseAddr(addr string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("target %q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("target %q: host must be an IP address or localhost", addr)
	}
	if ip.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("target %q: %w", addr, ErrNotLoopback)
	}
	ip = ip.Unmap()
	if !ip.IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("target %q: %w", addr, ErrNotLoopback)
	}
	p, err := netip.ParseAddrPort(net.JoinHostPort(ip.String(), port))
	if err != nil || p.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("target %q: port must be 1-65535", addr)
	}
	return p, nil
}

// parseTarget is ParseAddr, except that the host may also be target.
func parseTarget(addr, target string) (netip.AddrPort, error) {
	ap, err := ParseAddr(addr)
	if err == nil || target == "" || !errors.Is(err, ErrNotLoopback) {
		return ap, err
	}
	host, _, _ := net.SplitHostPort(addr)
	if host != target {
		return ap, err
	}
	ap, perr := netip.ParseAddrPort(addr)
	if perr != nil || ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("target %q: port must be 1-65535", addr)
	}
	return ap, nil
}

// sockaddr turns a resolved target into what connect(2) takes.
func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, unix.AF_INET6
}

// request is the one request the generator sends, as wrk sends it.
func request(addr string) []byte {
	return []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
}
