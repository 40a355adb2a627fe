// Command facelive runs the facelive engine on video files and cameras and
// offers small tools around it: config checking, a synthetic test-clip
// maker and a before/after contact sheet.
//
//	facelive run --input in.mp4|/dev/videoN|N --output out.mp4|window|v4l2:/dev/videoN [--config cfg.json] [--size WxH] [--fps N] [--quiet]
//	facelive makeclip --photo face.png --output clip.mp4 [--crop X,Y,W,H] [--height 0.45] [--seconds 4] [--size 1280x720] [--fps 30]
//	facelive sheet --before in.mp4 --after out.mp4 --output sheet.png [--frames 4] [--width 1600]
//	facelive tune [--profile auto|low|medium|high|workstation] [--level conservative|balanced|aggressive|custom] [--config FILE] [-o FILE]
//	facelive bench [-o out/bench] [--quick] [--duration 4s] [--scenarios SUBSTRING]
//	facelive config check FILE
//	facelive config default
//	facelive version
//
// Help goes to stdout with exit status 0 ("facelive help run" and "facelive
// run --help" print the same); errors go to stderr behind one "facelive:"
// prefix. Exit status: 0 success, 1 runtime error, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
  run                  swap faces in a video file or a camera; write a file, show a window,
                       or feed a virtual camera (v4l2loopback)
  makeclip             make a synthetic test clip from a face photo, with its known motion
  sheet                write a PNG of frames before (top row) and after (bottom row) processing
  tune                 show this machine, the profile and settings the engine would pick and why;
                       -o saves them as a config file
  bench                fixed scenarios through the C ABI path; writes out/bench/report.html with plots
  config check FILE    validate a config file and print the effective config
  config default       print the default config as JSON
  version              print the version (also --version, -v)
  help [COMMAND]       show this help, or a command's

Run 'facelive help <command>' (or 'facelive <command> --help') for a command's flags.

Examples:
  facelive run --input /dev/video0 --output window
  facelive run --input /dev/video0 --output v4l2:/dev/video10
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
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, usageText)
			return exitOK
		}
		// "help CMD" is "CMD --help": the same text, on stdout.
		if _, ok := commands[rest[0]]; !ok {
			return report(usageErrorf("help: unknown command %q; run 'facelive help' for the list", rest[0]), stderr)
		}
		cmd, rest = rest[0], []string{"--help"}
	case "-v", "-version", "--version":
		cmd = "version"
	}
	run, ok := commands[cmd]
	if !ok {
		return report(usageErrorf("unknown command %q; run 'facelive help' for the list", cmd), stderr)
	}
	return report(run(ctx, rest, stdout, stderr), stderr)
}

// commands maps each command to what runs it.
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"run":      cmdRun,
	"makeclip": cmdMakeclip,
	"sheet":    cmdSheet,
	"tune": func(_ context.Context, args []string, stdout, stderr io.Writer) error {
		return cmdTune(args, stdout, stderr)
	},
	"bench": cmdBench,
	"config": func(_ context.Context, args []string, stdout, stderr io.Writer) error {
		return cmdConfig(args, stdout, stderr)
	},
	"version": cmdVersion,
}

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, version.String())
	return nil
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
// the caller (and become usage errors) instead of exiting. Its help (-h,
// --help) goes to stdout; a flag error is one line on stderr (report).
func newFlagSet(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on errors too: parseFlags prints the help itself
	helpers[fs] = func() {
		fmt.Fprintf(stdout, "Usage: facelive %s\n", synopsis)
		if help := commandHelp[name]; help != "" {
			fmt.Fprintf(stdout, "\n%s", help)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(stdout, "\nFlags:\n")
			printFlags(stdout, fs)
		}
	}
	return fs
}

// helpers holds each FlagSet's help printer (commands run one at a time).
var helpers = map[*flag.FlagSet]func(){}

// printFlags lists fs's flags the way they are written: --name VALUE, with
// -o beside --output.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "o" {
			return // shown with --output
		}
		kind, usage := flag.UnquoteUsage(f)
		names := "--" + f.Name
		if f.Name == "output" && fs.Lookup("o") != nil {
			names = "-o, --output"
		}
		switch kind {
		case "":
		case "string":
			names += " VALUE"
		case "int", "float", "uint":
			names += " N"
		case "duration":
			names += " DURATION"
		default: // the name the usage text gives in backquotes (FILE, WIDTHxHEIGHT)
			names += " " + kind
		}
		fmt.Fprintf(w, "  %s\n    \t%s", names, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// commandHelp is a command's description in its help, between the usage
// line and the flags (none: the usage line says it all).
var commandHelp = map[string]string{}

// parseFlags parses args into fs; flag errors, positional arguments and
// missing required flags are usage errors that name the command once.
// -h/--help prints the command's help on stdout and ends it with exit 0.
func parseFlags(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if help := helpers[fs]; help != nil {
				help()
			}
			return err
		}
		return usageErrorf("%s: %v; run 'facelive help %s' for its flags", fs.Name(), err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q (flags start with --)", fs.Name(), fs.Arg(0))
	}
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			return usageErrorf("%s: --%s is required; run 'facelive help %s' for its flags", fs.Name(), name, fs.Name())
		}
	}
	return nil
}

// outputFlag defines --output with -o as its short form, the same in every
// command that writes something.
func outputFlag(fs *flag.FlagSet, value, usage string) *string {
	p := fs.String("output", value, usage)
	fs.StringVar(p, "o", value, "short for --output")
	return p
}
