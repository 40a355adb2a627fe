package main

import (
	"time"

	"facelive/engine/kserve/kservetest"
	"facelive/engine/ortenv"
	"facelive/internal/assets"
)

// The kserve backend beside local, on the same camera and host as the
// slow-model pair (30 fps, each frame awaited 25 ms): the quick DFM over
// loopback (what the protocol and the pipelining cost per frame, and the
// bare round trip) and behind a server that answers in 200 ms (a GPU box
// on a slow network: the live path must not notice).
const (
	benchKServeLoopback = "kserve loopback, 30 fps camera: quick dfm"
	benchKServe200      = "kserve 200 ms server, 30 fps camera: quick dfm"
)

func kserveScenarios(live scenario) []scenario {
	loop, slow := live, live
	loop.Name, loop.Swapper, loop.KServe = benchKServeLoopback, "dfm", true
	slow.Name, slow.Swapper, slow.KServe, slow.ServerDelayMs = benchKServe200, "dfm", true, 200
	return []scenario{loop, slow}
}

// startBenchServer serves the DFM as "dfm" on the in-process stand-in for
// Triton (ONNX Runtime in this process; the engine's own library).
func startBenchServer(model string, delayMs int) (*kservetest.Server, error) {
	if err := ortenv.Init(ortenv.DefaultLibrary(assets.Dir())); err != nil {
		return nil, err
	}
	srv, err := kservetest.Start("127.0.0.1:0", "dfm", model, kservetest.Options{})
	if err != nil {
		return nil, err
	}
	srv.SetDelay(time.Duration(delayMs) * time.Millisecond)
	return srv, nil
}
