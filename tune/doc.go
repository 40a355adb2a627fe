// Package tune picks settings for the machine facelive runs on and keeps
// them tuned while it runs.
//
// It has three parts, each usable alone:
//
//   - [PickProfile] classifies a machine ([System]: cores, RAM, GPUs and a
//     timing of its CPU, [Calibration]) as low, medium, high or workstation
//     and says why in one sentence, so a log or the OBS info line can show
//     the user what was chosen.
//   - [For] maps a profile and an optimisation level (conservative, balanced,
//     aggressive, custom) to concrete values for config keys ([Settings]),
//     with a reason per key; [ForMode] fits the workers to the mode and the
//     cores. [Settings.Patch] turns them into a partial config JSON object
//     that never overrides a key the user set.
//   - [Tuner] reads metrics every few seconds, proposes one change at a time,
//     keeps it only if the stream got better, reverts it otherwise, and
//     explains every decision in one log line.
//
// tune never imports the engine, bridge or adapt: the engine feeds it numbers
// ([Sample], [System]) and applies what it decides through a callback, so
// everything here is tested with fake machines and a fake clock.
package tune
