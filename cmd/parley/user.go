package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/parley-im/parley/internal/store"
)

func init() {
	commands["user"] = command{summary: "manage server accounts: user add|del|list (passwords stored as digest HA1 only)", run: runUser}
}

const userExamples = `  parley user add alice --password secret
  PARLEY_PASSWORD=secret parley user add alice@example.com
  echo secret | parley user add bob --domain example.com
  parley user passwd alice --password new-secret
  parley user list
  parley user del alice`

// parseInterspersed parses flags that may come after positional
// arguments ("user add alice --password x") and returns the positionals.
func parseInterspersed(e *env, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(e, fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runUser(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "user", "add|passwd|del|list [user[@domain]] [flags]",
		"Manage the accounts of 'parley serve' in its store (the same --data-dir or --db).\n"+
			"Passwords are never stored: only the digest HA1 = H(user:realm:password) for\n"+
			"MD5 and SHA-256, with the domain as realm. The password comes from --password,\n"+
			"else PARLEY_PASSWORD, else the first line of standard input.\n"+
			"A running server sees an added, changed or deleted account within about a second:\n"+
			"its SIP proxy caches accounts and password hashes for --sip-cache-ttl (1 s by\n"+
			"default), its MSRP relays read them afresh for every AUTH. A password change\n"+
			"leaves existing registrations until they expire (refreshing one needs the new\n"+
			"password); 'user del' also removes the user's registrations.", userExamples)
	domain := fs.String("domain", envOr(e, "PARLEY_DOMAIN", "localhost"), "the user's SIP domain (env PARLEY_DOMAIN; the first --domain of serve)")
	password := fs.String("password", "", "the password (else env PARLEY_PASSWORD, else a line read from stdin)")
	name := fs.String("name", "", "display name (add)")
	sf := addStoreFlags(e, fs)
	pos, err := parseInterspersed(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("user: missing subcommand (add, passwd, del or list)")}
	}
	sub := pos[0]
	pos = pos[1:]
	if *domain != "" {
		*domain = strings.ToLower(*domain)
	}
	who := func() (string, string, error) {
		if len(pos) != 1 {
			return "", "", &exitError{code: 2, err: fmt.Errorf("user %s: want exactly one user name", sub)}
		}
		u := strings.TrimPrefix(strings.TrimPrefix(pos[0], "sip:"), "sips:")
		d := *domain
		if user, host, ok := strings.Cut(u, "@"); ok {
			u, d = user, strings.ToLower(host)
		}
		if u == "" || strings.ContainsAny(u, " \t\r\n:@;<>\"") || d == "" {
			return "", "", &exitError{code: 2, err: fmt.Errorf("user %s: %q is not a user name", sub, pos[0])}
		}
		return u, d, nil
	}
	getPassword := func() (string, error) {
		if *password != "" {
			return *password, nil
		}
		if p := e.getenv("PARLEY_PASSWORD"); p != "" {
			return p, nil
		}
		fmt.Fprint(e.stderr, "password: ")
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if err == nil {
				err = errors.New("empty password")
			}
			return "", fmt.Errorf("user %s: no password (--password, PARLEY_PASSWORD or stdin): %w", sub, err)
		}
		return line, nil
	}
	switch sub {
	case "add", "passwd", "del", "list":
	default:
		return &exitError{code: 2, err: fmt.Errorf("user: unknown subcommand %q (add, passwd, del or list)", sub)}
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "add", "passwd":
		u, d, err := who()
		if err != nil {
			return err
		}
		pw, err := getPassword()
		if err != nil {
			return err
		}
		creds, err := store.NewCredentials(u, d, pw)
		if err != nil {
			return err
		}
		if sub == "passwd" {
			if err := st.SetCredentials(ctx, d, u, creds); err != nil {
				return fmt.Errorf("user passwd %s@%s: %w", u, d, err)
			}
			fmt.Fprintf(e.stdout, "password of sip:%s@%s changed\n", u, d)
			return nil
		}
		if err := st.AddAccount(ctx, store.Account{Domain: d, User: u, DisplayName: *name, Credentials: creds}); err != nil {
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("user add: sip:%s@%s already exists (use 'parley user passwd' to change the password)", u, d)
			}
			return fmt.Errorf("user add: %w", err)
		}
		fmt.Fprintf(e.stdout, "added sip:%s@%s\n", u, d)
	case "del":
		u, d, err := who()
		if err != nil {
			return err
		}
		if err := st.DeleteAccount(ctx, d, u); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("user del: no user sip:%s@%s", u, d)
			}
			return err
		}
		aor := "sip:" + u + "@" + d
		if _, err := st.RemoveAll(ctx, aor); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted %s (its history and queued messages are kept)\n", aor)
	case "list":
		if len(pos) > 0 {
			return &exitError{code: 2, err: errors.New("user list takes no user name")}
		}
		d := ""
		if isFlagSet(fs, "domain") {
			d = *domain
		}
		as, err := st.Accounts(ctx, d)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tNAME\tALGORITHMS\tDEVICES")
		for _, a := range as {
			aor := "sip:" + a.User + "@" + a.Domain
			bs, _ := st.Lookup(ctx, aor)
			var algs []string
			for _, c := range a.Credentials {
				algs = append(algs, string(c.Algorithm))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", aor, a.DisplayName, strings.Join(algs, ","), len(bs))
		}
		tw.Flush()
	}
	return nil
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
