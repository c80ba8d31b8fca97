package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseInterleaved parses flags that may come before or after positional
// arguments ("plan FILE --var a=b"), returning the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name, synopsis, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: understudy %s %s\n\n%s\n", name, synopsis, help)
		if hasFlags(fs) {
			fmt.Fprintln(stderr, "\nOptions:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// flagExit is the exit code after a flag parsing error: 0 for -h.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// inputs are a runbook's inputs on the command line.
type inputs struct {
	vars, varFiles stringList
}

// inputFlags registers --var and --var-file.
func inputFlags(fs *flag.FlagSet) *inputs {
	in := &inputs{}
	fs.Var(&in.vars, "var", "set a variable: NAME=VALUE (repeatable)")
	fs.Var(&in.varFiles, "var-file", "read variables from an HCL file (repeatable)")
	return in
}

// usageError names what is wrong with a command line, then shows the usage.
func usageError(fs *flag.FlagSet, stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "understudy %s: %s\n\n", fs.Name(), msg)
	fs.Usage()
	return exitUsage
}
