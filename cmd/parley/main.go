// Command parley is Parley's single binary: session-mode instant messaging
// over SIP with MSRP (RFC 4975) or the seed draft's CPIM transport sessions.
//
//	parley demo                      alice and bob in one process on loopback
//	parley send <peer> [text | -]    one message; exit 0 only when delivered
//	parley listen                    print received messages as JSON lines
//	parley chat [peer]               interactive chat in a message session
//
// Identity and server come from flags or the environment: --as
// (PARLEY_AS), --password (PARLEY_PASSWORD), --server (PARLEY_SERVER,
// registrar and outbound proxy), --proxy (PARLEY_PROXY), --listen
// (PARLEY_LISTEN), --contact-host (PARLEY_CONTACT_HOST), --transport
// udp|tcp|tls (PARLEY_TRANSPORT), --media msrp|cpim|both (PARLEY_MEDIA),
// --cert/--key/--ca (PARLEY_CERT, PARLEY_KEY, PARLEY_CA) and --insecure.
// Without a server, peers are reached directly (peer-to-peer) at the
// address "parley listen" or "parley chat" prints.
//
// Exit statuses: 0 success, 1 failure, 2 command-line mistake, and for
// send 3 when the message was accepted for later delivery (202) or sent
// without a delivery confirmation.
//
// Every subcommand lives in its own file as a function
// run<Name>(ctx, env, args) error registered in commands below; main only
// parses the subcommand name, wires signals into the context and turns an
// error into an exit status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/emiago/sipgo/sip"
)

// env is what a subcommand may touch of the process, so tests can run
// subcommands in-process with their own streams and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands is filled by the init functions of the subcommand files.
var commands = map[string]command{}

// exitError carries a specific exit status out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	// sipgo logs a few lines (e.g. "TCP ref went negative", its issue
	// #34) to its package-global logger; the UA's own logs are
	// configured per UA.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	err := run(ctx, e, os.Args[1:])
	stop()
	if err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "parley:", err)
		} else {
			code = 0
		}
		os.Exit(code)
	}
}

func run(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run(ctx, e, []string{"--help"})
			}
		}
		usage(e.stdout)
		if len(args) == 0 {
			return &exitError{code: 2, err: errors.New("no command given; see the list above")}
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		usage(e.stderr)
		return &exitError{code: 2, err: fmt.Errorf("unknown command %q; run 'parley help' for the list", args[0])}
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Parley: session-mode instant messaging (SIP, MSRP, CPIM).")
	fmt.Fprintln(w, "\nUsage: parley <command> [flags] [arguments]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'parley <command> --help' for a command's flags and examples.")
}

// newFlagSet returns a flag set that prints its usage, with the command's
// description and examples, to e.stderr (stdout when --help is asked).
func newFlagSet(e *env, name, synopsis, description, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: parley %s %s\n\n%s\n\nFlags:\n", name, synopsis, description)
		printFlags(w, fs)
		if examples != "" {
			fmt.Fprintf(w, "\nExamples:\n%s\n", examples)
		}
	}
	return fs
}

// printFlags is flag.PrintDefaults with the "--name" spelling the
// examples use.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0":
		case kind == "string":
			line += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintln(w, line)
	})
}

// envOr returns the environment variable name if set, else def.
func envOr(e *env, name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}
