// Package vram keeps facelive's heavy models inside a memory budget.
//
// It answers three questions for the engine, which imports it (vram never
// imports engine, bridge, adapt or tune):
//
//   - How much memory may models use? [Probe] reads the first NVIDIA GPU
//     through NVML ([OpenNVML]) and allows 80 % of its free memory; without a
//     driver or GPU it allows 50 % of available system RAM (at least 256 MB);
//     a configured vram_budget_mb wins over both. [Monitor] re-probes on its
//     own goroutine so the number follows the machine.
//   - Which models stay loaded? [Cache] is an LRU of models by key with
//     exclusive checkout: a model a pipeline holds is never evicted; idle ones
//     are evicted least recently used first when room is needed.
//   - Which ONNX Runtime execution provider should sessions use?
//     [ChooseProvider] turns execution_provider (auto|cpu|cuda|tensorrt) into
//     a provider and a sentence saying why.
//
// Everything that touches the machine (NVML, /proc/meminfo, the clock) sits
// behind a small interface so tests run anywhere, GPU or not.
package vram
