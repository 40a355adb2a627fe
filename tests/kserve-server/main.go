// Command kserve-server runs the tests' stand-in for NVIDIA Triton
// (package kservetest: a KServe v2 gRPC server that runs one ONNX model
// with ONNX Runtime) as a process of its own, so that a test written in
// plain C can swap faces through it over the C ABI
// (tests/c/kserve_test.c). It is a test helper, built by CMake beside the
// C tests, never installed.
//
//	facelive-kserve-server -model dfm.onnx [-name celeb] [-addr 127.0.0.1:0]
//
// It prints the address it listens on (host:port) as the first line of
// stdout, then serves until stdin reaches its end (the test closes its end
// of the pipe, or dies) or a SIGTERM or SIGINT comes. ONNX Runtime is
// $FACELIVE_ONNXRUNTIME_LIB, else the one make deps put into third_party/.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"facelive/engine/kserve/kservetest"
	"facelive/engine/ortenv"
	"facelive/internal/assets"
)

func main() {
	model := flag.String("model", "", "the ONNX model to serve (required)")
	name := flag.String("name", "celeb", "the model's name on the server")
	addr := flag.String("addr", "127.0.0.1:0", "host:port to listen on (port 0: any free one)")
	flag.Parse()
	if *model == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: facelive-kserve-server -model MODEL.onnx [-name NAME] [-addr HOST:PORT]")
		os.Exit(2)
	}
	if err := ortenv.Init(ortenv.DefaultLibrary(assets.Dir())); err != nil {
		fmt.Fprintln(os.Stderr, "kserve-server:", err)
		os.Exit(1)
	}
	srv, err := kservetest.Start(*addr, *name, *model, kservetest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "kserve-server:", err)
		os.Exit(1)
	}
	fmt.Println(srv.Addr())

	done := make(chan string, 2)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		done <- "stdin closed"
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { done <- (<-sig).String() }()
	why := <-done
	srv.Kill()
	fmt.Fprintf(os.Stderr, "kserve-server: %s: stopped after %d inference requests\n", why, srv.Requests())
}
