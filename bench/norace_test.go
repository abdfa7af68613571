//go:build bench && !race

package bench

// raceEnabled reports whether the race detector is on. Timings under it
// are several times slower, so they are not recorded.
const raceEnabled = false
