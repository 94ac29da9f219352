package stdserver

import (
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
)

func startModel(cfg serve.Config) (serve.Server, error) {
	s, err := Start(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Model{Name: "std", Start: startModel})
}

func TestConformanceSerial(t *testing.T) {
	conformance.Run(t, conformance.Model{Name: "std-serial", Start: startModel, Serial: true})
}
