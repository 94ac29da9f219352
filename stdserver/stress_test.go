package stdserver

import (
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/stress"
)

func TestStress(t *testing.T) {
	stress.Run(t, conformance.Model{Name: "std", Start: startModel})
}

func TestStressSerial(t *testing.T) {
	stress.Run(t, conformance.Model{Name: "std-serial", Start: startModel, Serial: true})
}
