package gnetserver

import (
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/stress"
)

func TestStress(t *testing.T) {
	stress.Run(t, conformance.Model{Name: "gnet", Start: func(c serve.Config) (serve.Server, error) { return Start(c) }})
}
