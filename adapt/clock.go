package adapt

import "facelive/internal/clock"

// Clock tells the time; tests inject a fake one so hysteresis and rates can
// be checked over simulated minutes in microseconds.
type Clock = clock.Clock

// SystemClock is the wall clock.
type SystemClock = clock.System
