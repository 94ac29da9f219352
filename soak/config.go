package soak

import (
	"fmt"
	"io"
	"time"
)

// Config is one soak run. Zero fields take their defaults.
type Config struct {
	Duration time.Duration // how long the clients run (default 1m)
	Interval time.Duration // between two readings of each server (default 5s)
	Settle   time.Duration // how long the servers get to close everything once the clients are gone (default 10s)

	// The well-behaved clients: Conns keep-alive connections per server,
	// each sending batches of Pipeline requests, Rate requests per second
	// per server in all, on a fixed schedule.
	Conns    int     // default 4
	Pipeline int     // default 4
	Rate     float64 // default 200

	// The hostile clients, per server: each of the paced kinds (reset,
	// unread, invalid) runs Ops operations per second; a churn burst opens
	// Churn connections at once every ChurnEvery; Idle connections are held
	// open without a byte until the server closes them.
	Ops        float64       // default 5
	Churn      int           // default 32
	ChurnEvery time.Duration // default 2s
	Idle       int           // default 8

	// The servers' timeouts, which the idle and slow-header clients
	// expect to see enforced. Zero means the server has the timeout
	// disabled: idle connections are then held for IdleHold and closed by
	// the client, and no slow-header client runs.
	IdleTimeout   time.Duration
	HeaderTimeout time.Duration

	Limits Limits // what counts as a leak (zero fields: defaults)

	// Progress, when set, gets one line after each reading: the time and,
	// per server, its good requests and errors, hostile operations, fds and
	// RSS so far.
	Progress io.Writer
}

// Defaults.
const (
	DefaultDuration   = time.Minute
	DefaultInterval   = 5 * time.Second
	DefaultSettle     = 10 * time.Second
	DefaultConns      = 4
	DefaultPipeline   = 4
	DefaultRate       = 200
	DefaultOps        = 5
	DefaultChurn      = 32
	DefaultChurnEvery = 2 * time.Second
	DefaultIdle       = 8
)

// IdleHold is how long an idle client holds its connection when the server
// has no idle timeout.
const IdleHold = 5 * time.Second

func (c Config) withDefaults() Config {
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.Conns == 0 {
		c.Conns = DefaultConns
	}
	if c.Pipeline == 0 {
		c.Pipeline = DefaultPipeline
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Ops == 0 {
		c.Ops = DefaultOps
	}
	if c.Churn == 0 {
		c.Churn = DefaultChurn
	}
	if c.ChurnEvery == 0 {
		c.ChurnEvery = DefaultChurnEvery
	}
	if c.Idle == 0 {
		c.Idle = DefaultIdle
	}
	c.Limits = c.Limits.withDefaults()
	return c
}

func (c Config) validate() error {
	switch {
	case c.Duration < 0, c.Interval < 0, c.Settle < 0, c.ChurnEvery < 0:
		return fmt.Errorf("durations must not be negative")
	case c.Conns < 1 || c.Pipeline < 1 || c.Churn < 1 || c.Idle < 1:
		return fmt.Errorf("connections, pipeline, churn and idle must be at least 1")
	case !(c.Rate > 0) || !(c.Ops > 0):
		return fmt.Errorf("rate and ops must be positive")
	case c.IdleTimeout < 0 || c.HeaderTimeout < 0:
		return fmt.Errorf("timeouts must not be negative")
	}
	return c.Limits.validate()
}

// batchEvery is how often each good connection sends a batch so that the
// connections together send Rate requests per second.
func (c Config) batchEvery() time.Duration {
	return max(time.Duration(float64(c.Conns*c.Pipeline)*float64(time.Second)/c.Rate), time.Millisecond)
}
