// Package queueadmin holds the operator commands on the password-change
// queue (`ldapsync admin changes …`) and the small command-line frame
// that both binaries' admin commands share (idp/admin builds on it). It
// lives under idp/shared because ldapsync links it and must not link the
// web tier.
package queueadmin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode"
)

// Exit codes of every admin command: done, failed (what was asked could
// not be done, or Redis failed), the command line is wrong.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Command is one admin command, e.g. "changes requeue", over the stores
// of type T that the binary opens from its configuration file.
type Command[T any] struct {
	Name    string // e.g. "changes requeue"
	Args    []string
	Summary string
	// Flags adds the command's own flags; nil: none.
	Flags func(fs *flag.FlagSet)
	// Changes: the command changes state, so it writes an audit line and
	// needs an operator.
	Changes bool
	Run     func(ctx context.Context, deps T, c *Call) error
}

// Call is what a command gets: its positional arguments, where to print,
// and the auditor for what it changes.
type Call struct {
	Args  []string
	Out   io.Writer
	Audit Auditor
}

// UsageError makes Dispatch answer ExitUsage.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Opener opens the stores of the configuration file path, the logger
// its log section configures (writing to stderr) and what to close.
type Opener[T any] func(ctx context.Context, path string, stderr io.Writer) (T, *slog.Logger, func(), error)

// Dispatch runs `prog admin <args>`: it finds the command, parses
// --config, --operator and the command's flags, opens the stores and
// runs it. It prints errors to stderr and returns the exit code.
func Dispatch[T any](ctx context.Context, prog string, cmds []Command[T], args []string, stdout, stderr io.Writer, env func(string) (string, bool), open Opener[T]) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		w, code := stderr, ExitUsage
		if len(args) > 0 {
			w, code = stdout, ExitOK
		}
		fmt.Fprint(w, Usage(prog, cmds))
		return code
	}
	var cmd *Command[T]
	var rest []string
	for i := range cmds {
		words := strings.Fields(cmds[i].Name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == cmds[i].Name {
			cmd, rest = &cmds[i], args[len(words):]
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "%s admin: unknown command %q\n%s", prog, strings.Join(args, " "), Usage(prog, cmds))
		return ExitUsage
	}
	name := prog + " admin " + cmd.Name
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "configuration file (YAML), the one the service runs with (required)")
	operator := fs.String("operator", "", "who runs the command, for the audit log (default: $USER)")
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s --config FILE [flags] %s\n  %s\n", name, strings.Join(cmd.Args, " "), cmd.Summary)
		fs.PrintDefaults()
	}
	flags, pos := splitArgs(fs, rest)
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return ExitOK
		}
		return ExitUsage
	}
	pos = append(fs.Args(), pos...)
	switch {
	case *config == "":
		fmt.Fprintf(stderr, "%s: --config FILE is required\n", name)
		fs.Usage()
		return ExitUsage
	case len(pos) != len(cmd.Args):
		fmt.Fprintf(stderr, "%s: expected %d argument(s) (%s), got %d\n", name, len(cmd.Args), strings.Join(cmd.Args, " "), len(pos))
		fs.Usage()
		return ExitUsage
	}
	op := *operator
	if op == "" {
		op, _ = env("USER")
	}
	if op == "" && cmd.Changes {
		fmt.Fprintf(stderr, "%s: --operator NAME is required when $USER is not set\n", name)
		return ExitUsage
	}
	deps, log, closeFn, err := open(ctx, *config, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailed
	}
	defer closeFn()
	err = cmd.Run(ctx, deps, &Call{Args: pos, Out: stdout, Audit: Auditor{Log: log, Operator: clean(op)}})
	var ue UsageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitUsage
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailed
	}
	return ExitOK
}

// Usage lists the commands.
func Usage[T any](prog string, cmds []Command[T]) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s admin COMMAND --config FILE [--operator NAME] [flags] [ARGS]\n\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-40s %s\n", strings.TrimSpace(c.Name+" "+strings.Join(c.Args, " ")), c.Summary)
	}
	fmt.Fprintf(&b, "\n%s admin COMMAND --help describes one command.\n", prog)
	return b.String()
}

// Auditor writes the audit line of a state-changing command: one record
// with the stable "audit" attribute naming it (as idp/audit does) and
// the operator.
type Auditor struct {
	Log      *slog.Logger
	Operator string
}

// Record logs event with attrs. It is written before the command prints
// its success, so nothing changes without a trace.
func (a Auditor) Record(ctx context.Context, event string, attrs ...slog.Attr) {
	all := append([]slog.Attr{slog.String("audit", event), slog.String("operator", a.Operator)}, attrs...)
	a.Log.LogAttrs(ctx, slog.LevelInfo, "audit", all...)
}

// clean drops control characters from what the operator typed, so that
// it cannot forge a line in a text log.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// splitArgs sorts args into fs's flags (with their values) and positional
// arguments, which may come before, between or after them. An argument
// that names no flag of fs is positional even when it starts with a dash:
// ids are base64url, and one in 64 begins with "-".
func splitArgs(fs *flag.FlagSet, args []string) (flags, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(pos, args[i+1:]...)
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if len(a) < 2 || a[0] != '-' || (f == nil && name != "h" && name != "help") {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		if f != nil && !hasValue && !isBool(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i]) // its value, whatever it looks like
		}
	}
	return flags, pos
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
