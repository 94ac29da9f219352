// Package serve holds what the three servers share outside the wire format:
// their settings and the small shape each one exposes (start, address, shut
// down).
package serve

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Server is a running server of any model.
type Server interface {
	// Addr is the address the server listens on, with the real port.
	Addr() string
	// Shutdown stops accepting, lets the responses in flight (delayed ones
	// too) go out whole, closes every connection and returns. When ctx ends
	// first it closes everything at once and returns ctx's error.
	Shutdown(ctx context.Context) error
}

// Delay modes.
const (
	DelayBlock = "block" // sleep where the handler runs, stalling an event loop
	DelayTimer = "timer" // wait without blocking the loop
)

// Trigger modes (epoll).
const (
	TriggerLevel = "level"
	TriggerEdge  = "edge"
)

// Accept modes (epoll).
const (
	AcceptReusePort = "reuseport" // one SO_REUSEPORT listener per loop
	AcceptExclusive = "exclusive" // one listener in every loop, EPOLLEXCLUSIVE
	AcceptShared    = "shared"    // one listener in every loop without EPOLLEXCLUSIVE: the thundering herd
)

// Idle modes (epoll): how a loop waits once a poll has found nothing ready.
const (
	IdleHold  = "hold"  // sleep in a raw epoll_wait keeping the P for up to 10 ms, then park (block if the listener is shared)
	IdleBlock = "block" // block in epoll_wait through the runtime's syscall path at once
	IdleSpin  = "spin"  // poll for up to 20 µs, then as hold
	IdlePark  = "park"  // park the goroutine in the runtime's netpoller on the epoll fd
)

// Config is the settings of one server; the command line fills it from
// flags. Start functions take it by value.
type Config struct {
	Addr    string // HOST:PORT; port 0 picks a free port
	Loops   int    // event loops (epoll, gnet) or GOMAXPROCS (std); <= 0: CPUs available
	Trigger string // epoll: TriggerLevel or TriggerEdge
	Accept  string // epoll: AcceptReusePort, AcceptExclusive or AcceptShared
	Serial  bool   // std: one connection at a time, no goroutines
	Idle    string // epoll: IdleHold, IdleBlock, IdleSpin or IdlePark

	// Delay holds each batch of responses (all those answering one read) for
	// this long before it is written; DelayMode says how the wait is done.
	Delay     time.Duration
	DelayMode string

	IdleTimeout   time.Duration // close connections idle this long; 0 disables
	HeaderTimeout time.Duration // 408 when a head is incomplete this long after its first byte; 0 disables
	MaxConns      int           // connections served at once; beyond it 503; <= 0: open-file limit - 64
}

// Default returns the contract's defaults.
func Default() Config {
	return Config{
		Addr:          "127.0.0.1:8080",
		Trigger:       TriggerLevel,
		Accept:        AcceptReusePort,
		Idle:          IdleHold,
		DelayMode:     DelayBlock,
		IdleTimeout:   60 * time.Second,
		HeaderTimeout: 10 * time.Second,
	}.Resolve()
}

// Resolve fills the settings whose default depends on the machine (Loops,
// MaxConns) and empty modes, and returns the result.
func (c Config) Resolve() Config {
	if c.Loops <= 0 {
		c.Loops = AvailableCPUs()
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns()
	}
	if c.Trigger == "" {
		c.Trigger = TriggerLevel
	}
	if c.Accept == "" {
		c.Accept = AcceptReusePort
	}
	if c.DelayMode == "" {
		c.DelayMode = DelayBlock
	}
	if c.Idle == "" {
		c.Idle = IdleHold
	}
	return c
}

// Validate reports settings no model can run with.
func (c Config) Validate() error {
	switch {
	case c.Trigger != TriggerLevel && c.Trigger != TriggerEdge:
		return fmt.Errorf("-trigger %q: want level or edge", c.Trigger)
	case c.Accept != AcceptReusePort && c.Accept != AcceptExclusive && c.Accept != AcceptShared:
		return fmt.Errorf("-accept %q: want reuseport, exclusive or shared", c.Accept)
	case c.Idle != IdleHold && c.Idle != IdleBlock && c.Idle != IdleSpin && c.Idle != IdlePark:
		return fmt.Errorf("-idle %q: want hold, block, spin or park", c.Idle)
	case c.DelayMode != DelayBlock && c.DelayMode != DelayTimer:
		return fmt.Errorf("-delay-mode %q: want block or timer", c.DelayMode)
	case c.Delay < 0 || c.IdleTimeout < 0 || c.HeaderTimeout < 0:
		return fmt.Errorf("durations must not be negative")
	}
	return nil
}

// AvailableCPUs is the number of CPUs this process may run on.
func AvailableCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil && set.Count() > 0 {
		return set.Count()
	}
	return runtime.NumCPU()
}

// DefaultMaxConns is the open-file limit minus 64 fds kept for the
// listeners, epoll instances, the runtime and the process's own files.
func DefaultMaxConns() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return 1 << 20
	}
	if n := int(lim.Cur) - 64; n > 0 {
		return n
	}
	return 1
}
