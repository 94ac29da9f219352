package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/readinesslab/readiness/epoll"
	"github.com/readinesslab/readiness/gnetserver"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/stdserver"
)

// model is one of the lab's servers. This table is the only place that
// lists them; every subcommand that runs servers takes them from here.
type model struct {
	name    string
	summary string // one sentence for -h
	start   func(serve.Config) (serve.Server, error)
	// ignored lists the server flags (without the dash) that do not apply to
	// this model: it accepts them and names them as ignored on startup.
	ignored []string
}

var models = []model{
	{
		name:    "epoll",
		summary: "a hand-written reactor: -loops goroutines locked to threads, each with its own epoll instance, raw nonblocking sockets through golang.org/x/sys/unix",
		start:   adapt(epoll.Start),
		ignored: []string{"serial"},
	},
	{
		name:    "gnet",
		summary: "the same reactor design from the gnet v2 library: -loops event loops calling back into the shared protocol code",
		start:   adapt(gnetserver.Start),
		ignored: []string{"trigger", "accept", "idle", "serial"},
	},
	{
		name:    "std",
		summary: "Go's net package: a goroutine per connection doing blocking reads and writes, the runtime's netpoller doing the epoll work; -serial serves one connection at a time",
		start:   adapt(stdserver.Start),
		ignored: []string{"trigger", "accept", "idle", "delay-mode"},
	},
}

// adapt turns a package's Start, which returns its own server type, into
// the table's start function. A failed start gives a nil interface, not an
// interface holding a nil pointer.
func adapt[S serve.Server](start func(serve.Config) (S, error)) func(serve.Config) (serve.Server, error) {
	return func(cfg serve.Config) (serve.Server, error) {
		s, err := start(cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// lookupModel finds a model by name.
func lookupModel(name string) (model, error) {
	for _, m := range models {
		if m.name == name {
			return m, nil
		}
	}
	return model{}, fmt.Errorf("unknown model %q: want one of %s", name, strings.Join(modelNames(), ", "))
}

// modelNames lists the models in the table's order.
func modelNames() []string {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.name
	}
	return names
}

// ignores reports whether flag (without the dash) does not apply to m.
func (m model) ignores(flag string) bool {
	return slices.Contains(m.ignored, flag)
}
