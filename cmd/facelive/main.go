// Command facelive runs the facelive engine on video files and offers small
// tools around it: config checking, a synthetic test-clip maker and a
// before/after contact sheet.
//
//	facelive run --input in.mp4 --output out.mp4 [--config cfg.json] [--quiet]
//	facelive makeclip --photo face.png --output clip.mp4 [--crop X,Y,W,H] [--height 0.45] [--seconds 4] [--size 1280x720] [--fps 30]
//	facelive sheet --before in.mp4 --after out.mp4 --output sheet.png [--frames 4] [--width 1600]
//	facelive tune [--profile auto|low|medium|high|workstation] [--level conservative|balanced|aggressive|custom] [--config FILE] [-o FILE]
//	facelive config check FILE
//	facelive config default
//	facelive version
//
// Exit status: 0 success, 1 runtime error, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"facelive/internal/version"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usageText = `facelive — live face-swap engine, command-line tool

Usage:
  facelive <command> [flags]

Commands:
  run                  process a video file through the engine and write the result
  makeclip             make a synthetic test clip from a face photo, with its known motion
  sheet                write a PNG of frames before (top row) and after (bottom row) processing
  tune                 show this machine, the profile and settings the engine would pick and why;
                       -o saves them as a config file
  bench                fixed scenarios through the C ABI path; writes out/bench/report.html with plots
  config check FILE    validate a config file and print the effective config
  config default       print the default config as JSON
  version              print the version
  help                 show this help

Run 'facelive <command> -h' for a command's flags.

Examples:
  facelive makeclip --photo astronaut.png --crop 110,12,232,232 --height 0.7 --output clip.mp4
  facelive run --input clip.mp4 --output out.mp4 --config my.json
  facelive sheet --before clip.mp4 --after out.mp4 --output sheet.png
  facelive tune --level aggressive -o live.json
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one facelive command line (without the program name) and
// returns the exit status. Tests call it directly.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context whose cancellation (Ctrl-C) stops a long
// command early but cleanly: files written so far are finalised.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	case "version", "-version", "--version":
		if len(rest) > 0 {
			err = usageErrorf("version takes no arguments")
			break
		}
		fmt.Fprintln(stdout, version.String())
	case "run":
		err = cmdRun(ctx, rest, stdout, stderr)
	case "makeclip":
		err = cmdMakeclip(ctx, rest, stdout, stderr)
	case "sheet":
		err = cmdSheet(ctx, rest, stdout, stderr)
	case "tune":
		err = cmdTune(rest, stdout, stderr)
	case "bench":
		err = cmdBench(ctx, rest, stdout, stderr)
	case "config":
		err = cmdConfig(rest, stdout, stderr)
	default:
		err = usageErrorf("unknown command %q; run 'facelive help' for the list", cmd)
	}
	return report(err, stderr)
}

// report prints err as "facelive: <message>" and maps it to an exit code.
func report(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "facelive: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// usageError marks a command line the user got wrong (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// newFlagSet returns a FlagSet for one subcommand whose errors come back to
// the caller (and become usage errors) instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("facelive "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: facelive %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs; flag errors, positional arguments and
// missing required flags are usage errors. flag.ErrHelp passes through.
func parseFlags(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()} // the FlagSet already printed the usage
	}
	if fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q (flags start with --)", fs.Name(), fs.Arg(0))
	}
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			return usageErrorf("%s: --%s is required", fs.Name(), name)
		}
	}
	return nil
}
