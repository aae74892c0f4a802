package alerts_test

import (
	"testing"

	"github.com/loginguard/loginguard/alerts"
	"github.com/loginguard/loginguard/alerts/alertstest"
)

// TestMemoryConformance runs the Windows conformance suite on Memory.
func TestMemoryConformance(t *testing.T) {
	alertstest.Run(t, func(t *testing.T, maxKeys int) alertstest.Store {
		m := alerts.NewMemory(maxKeys)
		return alertstest.Store{
			Windows: m,
			Held:    m.Held,
			Subjects: func(rule string) int {
				n, _ := m.Subjects(rule)
				return n
			},
		}
	})
}
