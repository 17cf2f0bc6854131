package server

import (
	"strings"
	"testing"
)

func TestParseListen(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		err  string
	}{
		{"udp:127.0.0.1:5060,tcp:127.0.0.1:5060", "udp 127.0.0.1:5060|tcp 127.0.0.1:5060", ""},
		{" TLS:[::1]:5061 ,", "tls [::1]:5061", ""},
		{"tcp:127.0.0.1:0", "tcp 127.0.0.1:0", ""},
		{"", "", "no SIP listener"},
		{"sctp:127.0.0.1:5060", "", "transport udp, tcp or tls"},
		{"udp:127.0.0.1", "", "missing port"},
		{"127.0.0.1:5060", "", "transport udp, tcp or tls"},
	} {
		ls, err := ParseListen(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want error with %q", c.in, err, c.err)
			}
			continue
		}
		var got []string
		for _, l := range ls {
			got = append(got, l.Transport+" "+l.Addr)
		}
		if err != nil || strings.Join(got, "|") != c.want {
			t.Errorf("%q: %v %v, want %s", c.in, got, err, c.want)
		}
	}
}

// FuzzParseListen: any input gives listeners with a known transport and
// a host:port, or an error; never a panic.
func FuzzParseListen(f *testing.F) {
	for _, s := range []string{"udp:127.0.0.1:5060,tcp:127.0.0.1:5060", "tls:[::1]:0", ",,", "udp::", "x:y:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := ParseListen(s)
		if err != nil {
			return
		}
		if len(ls) == 0 {
			t.Fatal("no listeners and no error")
		}
		for _, l := range ls {
			if l.Transport != "udp" && l.Transport != "tcp" && l.Transport != "tls" {
				t.Fatalf("transport %q", l.Transport)
			}
		}
	})
}
