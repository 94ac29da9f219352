package epoll

import (
	"testing"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Model{Name: "epoll", Start: func(c serve.Config) (serve.Server, error) { return Start(c) }})
}
