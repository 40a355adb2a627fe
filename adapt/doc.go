// Package adapt keeps facelive real-time on whatever machine it runs on.
//
// It answers three questions for the engine, which imports it (adapt never
// imports engine, bridge, vram or tune, and sees the pipeline only through
// numbers passed in and decisions passed out):
//
//   - What happens to a frame when the pipeline is full? [Policy] turns the
//     config's mode and skip strategy into queue bounds and, through
//     [Policy.WhenFull], into evict-oldest, drop-new or refuse.
//   - How much quality can this machine afford right now? [Controller] walks
//     a quality ladder ([DefaultLadder]) down when frames cost more than the
//     frame interval and back up when there is room, with hysteresis so it
//     settles instead of flipping between two rungs.
//   - How does a model slower than the camera keep up? [Decoupler] runs it on
//     its own goroutine at its own rate; the per-frame path starts a job only
//     when the worker is idle and otherwise reuses the latest result, so it
//     never waits.
//
// [RateMeter] measures the rates all of these need. Time comes from an
// injected [Clock], so tests replay minutes of load in microseconds. The
// per-frame calls (ObserveInput, ObserveFrame, TryStart, Latest) do not
// allocate.
package adapt
