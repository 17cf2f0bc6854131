package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestHelp: every command's --help goes to stdout with a description,
// its flags and examples, and main exits 0 for it.
func TestHelp(t *testing.T) {
	want := map[string][]string{
		"demo":   {"Usage: parley demo", "--wire", "--transport", "Examples:", "parley demo --wire"},
		"send":   {"Usage: parley send", "Exit status:", "3  accepted for later delivery", "--session", "--progress", "PARLEY_AS", "PARLEY_PASSWORD", "PARLEY_SERVER", "PARLEY_LISTEN", "--insecure", "--media", "Examples:"},
		"listen": {"Usage: parley listen", "--output", "JSON", `"content_type"`, "SIGINT", "Examples:"},
		"chat":   {"Usage: parley chat", "/quit", "/help", "typing", "Examples:"},
	}
	// Commands of other files get the general checks.
	for name := range commands {
		if _, ok := want[name]; !ok {
			want[name] = []string{"Usage: parley " + name}
		}
	}
	for name, parts := range want {
		for _, h := range []string{"--help", "-h"} {
			e, out, errb := testEnv(nil, nil)
			err := run(t.Context(), e, []string{name, h})
			if !errors.Is(err, flag.ErrHelp) {
				t.Errorf("%s %s: err = %v, want flag.ErrHelp", name, h, err)
			}
			for _, p := range parts {
				if !strings.Contains(out.String(), p) {
					t.Errorf("%s %s: stdout lacks %q:\n%s", name, h, p, out)
				}
			}
			if errb.String() != "" {
				t.Errorf("%s %s: stderr = %q", name, h, errb)
			}
		}
		// "parley help <command>" is the same.
		e, out, _ := testEnv(nil, nil)
		run(t.Context(), e, []string{"help", name})
		if !strings.Contains(out.String(), "Usage: parley "+name) {
			t.Errorf("help %s: %q", name, out)
		}
	}
}

func TestUsage(t *testing.T) {
	e, out, _ := testEnv(nil, nil)
	if err := run(t.Context(), e, nil); exitCode(err) != 2 {
		t.Errorf("no command: %v", err)
	}
	for _, name := range []string{"demo", "send", "listen", "chat"} {
		if !strings.Contains(out.String(), "  "+name+" ") {
			t.Errorf("usage lacks %s:\n%s", name, out)
		}
	}
	e, _, errb := testEnv(nil, nil)
	if err := run(t.Context(), e, []string{"frobnicate"}); exitCode(err) != 2 || !strings.Contains(err.Error(), "parley help") {
		t.Errorf("unknown command: %v", err)
	}
	if !strings.Contains(errb.String(), "Commands:") {
		t.Errorf("unknown command: stderr %q", errb)
	}
}
