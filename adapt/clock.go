package adapt

import "time"

// Clock tells the time; tests inject a fake one so hysteresis and rates can
// be checked over simulated minutes in microseconds.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
