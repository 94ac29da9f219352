package gnetserver

import (
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Model{Name: "gnet", Start: func(cfg serve.Config) (serve.Server, error) {
		s, err := Start(cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}})
}
