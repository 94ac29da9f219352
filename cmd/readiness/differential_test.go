package main

import (
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
)

// TestDifferential sends the same random byte streams to every model of the
// table, and to the serial variant of each model that takes -serial, and
// requires the same answers from all of them.
func TestDifferential(t *testing.T) {
	var ms []conformance.Model
	for _, m := range models {
		ms = append(ms, conformance.Model{Name: m.name, Start: m.start})
	}
	for _, m := range models {
		if m.ignores("serial") {
			continue
		}
		start := m.start
		ms = append(ms, conformance.Model{
			Name: m.name + " -serial",
			Start: func(cfg serve.Config) (serve.Server, error) {
				cfg.Serial = true
				return start(cfg)
			},
			Serial: true,
		})
	}
	conformance.Differential(t, ms)
}
