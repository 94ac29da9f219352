package gnetserver

import (
	"os"
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Model{Name: "gnet", EventLoops: true, Start: func(cfg serve.Config) (serve.Server, error) {
		return Start(cfg)
	}})
}

func TestMain(m *testing.M) { os.Exit(conformance.Main(m)) }
