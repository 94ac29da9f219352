package stdserver

import (
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/stress"
)

func TestStress(t *testing.T) {
	start := func(c serve.Config) (serve.Server, error) { return Start(c) }
	t.Run("std", func(t *testing.T) {
		stress.Run(t, conformance.Model{Name: "std", Start: start})
	})
	t.Run("std-serial", func(t *testing.T) {
		stress.Run(t, conformance.Model{Name: "std-serial", Start: start, Serial: true})
	})
}
