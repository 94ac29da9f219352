// Package netns makes the lab's nearest picture of a network card: two
// network namespaces of this process's own, a client's and a server's,
// joined by a veth pair with GRO on and TSO off. That gives each veth end a
// NAPI context that TCP's packets use, so a packet crossing the pair is
// received the way a NIC's is (queued, then polled by napi_poll on the
// device in the NET_RX softirq), where loopback hands it to the per-CPU
// backlog inside the sender's system call.
//
// Everything lives inside the two namespaces: their addresses are a private
// /30 that no other namespace routes, so nothing outside them is ever a
// target. Remove deletes the namespaces (and with them the veth pair) and
// nothing else: a name that already exists is an error, never taken over.
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Errors Check and Create return, wrapped with the detail.
var (
	ErrNotRoot     = errors.New("network namespaces need root")
	ErrUnsupported = errors.New("network namespaces are not supported here")
	ErrExists      = errors.New("network namespace already exists")
)

// The /30 the pair uses; it exists only inside the two namespaces.
const (
	serverAddr = "10.211.0.1"
	clientAddr = "10.211.0.2"
	prefixLen  = 30
)

// NS is one namespace of a Pair and its end of the veth.
type NS struct {
	Name string // under /run/netns
	Dev  string // its veth end
	Addr string // its IPv4 address
}

// Pair is a client's and a server's namespace, joined by a veth pair.
type Pair struct {
	Client, Server NS

	mu      sync.Mutex
	created []string // namespaces this Pair added, to delete in Remove
}

// Check says whether this process can make a Pair: root, the ip command,
// and a kernel with network namespaces.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w (running as uid %d)", ErrNotRoot, os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("%w: the ip command (Debian package iproute2) is missing", ErrUnsupported)
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return nil
}

// Create adds the two namespaces, named after this process, and the veth
// pair between them, addressed and up, on the NAPI path at both ends. On
// failure it removes whatever it added and says which step failed.
func Create() (*Pair, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	pid := os.Getpid()
	p := &Pair{
		Server: NS{Name: fmt.Sprintf("readiness-%d-srv", pid), Dev: fmt.Sprintf("rdn%ds", pid), Addr: serverAddr},
		Client: NS{Name: fmt.Sprintf("readiness-%d-cli", pid), Dev: fmt.Sprintf("rdn%dc", pid), Addr: clientAddr},
	}
	if err := p.build(); err != nil {
		if rerr := p.Remove(); rerr != nil {
			err = fmt.Errorf("%w (and removing what was made: %v)", err, rerr)
		}
		return nil, err
	}
	return p, nil
}

func (p *Pair) build() error {
	for _, ns := range []NS{p.Server, p.Client} {
		if _, err := os.Stat("/run/netns/" + ns.Name); err == nil {
			return fmt.Errorf("%w: %s (left by an earlier run? remove it with `ip netns del %s` if nothing uses it)", ErrExists, ns.Name, ns.Name)
		}
		if err := ip("netns", "add", ns.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrUnsupported, err)
		}
		p.mu.Lock()
		p.created = append(p.created, ns.Name)
		p.mu.Unlock()
	}
	// Both ends are made inside their namespaces at once, so the pair never
	// appears in this process's own namespace.
	if err := ip("link", "add", p.Server.Dev, "netns", p.Server.Name, "type", "veth",
		"peer", "name", p.Client.Dev, "netns", p.Client.Name); err != nil {
		return err
	}
	for _, ns := range []NS{p.Server, p.Client} {
		steps := [][]string{
			{"-n", ns.Name, "link", "set", "lo", "up"},
			{"-n", ns.Name, "addr", "add", fmt.Sprintf("%s/%d", ns.Addr, prefixLen), "dev", ns.Dev},
			{"-n", ns.Name, "link", "set", ns.Dev, "up"},
		}
		for _, s := range steps {
			if err := ip(s...); err != nil {
				return err
			}
		}
		if err := ns.Do(func() error { return napiPath(ns.Dev) }); err != nil {
			return fmt.Errorf("offloads of %s in %s: %w", ns.Dev, ns.Name, err)
		}
	}
	return nil
}

// Remove deletes the namespaces Create added; the veth pair goes with
// them. It may be called more than once and from a signal handler's
// goroutine while another call runs: each namespace is deleted once.
func (p *Pair) Remove() error {
	p.mu.Lock()
	names := p.created
	p.created = nil
	p.mu.Unlock()
	var errs []error
	for _, name := range names {
		if err := ip("netns", "del", name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Prefix is the command that runs what follows it inside ns. ip netns exec
// replaces itself with the command, so the command keeps ip's process id.
func (ns NS) Prefix() []string {
	return []string{"ip", "netns", "exec", ns.Name}
}

// ip runs the ip command and returns its complaint as the error.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
