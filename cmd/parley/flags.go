package main

import (
	"flag"
	"os"
)

// parseFlags parses args with fs. Help goes to stdout (it was asked for);
// mistakes print the usage to stderr and give exit status 2.
func parseFlags(e *env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "-h=true" || a == "--help=true" {
			fs.SetOutput(e.stdout)
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	return nil
}

// isTerminal reports whether w is a terminal (for progress lines and the
// chat line editor).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
