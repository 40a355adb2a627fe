package vram

import "facelive/internal/clock"

// Clock tells the time; tests inject a fake one.
type Clock = clock.Clock

// SystemClock is the wall clock.
type SystemClock = clock.System
