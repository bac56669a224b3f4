//go:build race

package main

// raceEnabled: the race detector slows syncs several times over; long tests size down.
const raceEnabled = true
