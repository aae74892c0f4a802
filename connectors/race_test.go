//go:build race

package connectors

// raceEnabled says the race detector, which slows channel operations tenfold, is on.
const raceEnabled = true
