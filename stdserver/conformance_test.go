package stdserver

import (
	"os"
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
)

func startModel(cfg serve.Config) (serve.Server, error) { return Start(cfg) }

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Model{Name: "std", Start: startModel})
}

func TestConformanceSerial(t *testing.T) {
	conformance.Run(t, conformance.Model{Name: "std-serial", Start: startModel, Serial: true})
}

func TestMain(m *testing.M) { os.Exit(conformance.Main(m)) }
