package state_test

import (
	"testing"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/statetest"
)

// BenchmarkMemoryTouchSession: TouchSession against Session in the memory
// store (see statetest.BenchTouchSession).
func BenchmarkMemoryTouchSession(b *testing.B) {
	for _, bc := range touchBenchmarks {
		b.Run(bc.name, func(b *testing.B) {
			m, clock := newTestMemory(b, state.MemoryOptions{})
			statetest.BenchTouchSession(b, m, clock, bc.write, bc.parallelism, nil)
		})
	}
}

var touchBenchmarks = []struct {
	name        string
	write       bool
	parallelism int
}{{"read", false, 0}, {"write", true, 0}, {"read-parallel", false, 16}, {"write-parallel", true, 16}}
