// Package clock is the one notion of time the engine's packages share, so
// that a test can inject a fake clock into all of them at once.
package clock

import "time"

// Clock tells the time; tests inject a fake one so hysteresis, rates and
// timeouts can be checked over simulated minutes in microseconds.
type Clock interface{ Now() time.Time }

// System is the wall clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }
