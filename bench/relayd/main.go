// Command relayd runs Parley's RFC 4976 MSRP relay (package msrp/relay)
// alone, for the side-by-side benchmarks in bench/: a process of its own,
// so that its memory can be read from /proc and its CPU is not shared with
// the load generator. It prints "listening HOST:PORT" on stdout once it
// accepts connections and runs until SIGINT or SIGTERM.
//
//	go run ./bench/relayd --listen 127.0.0.1:0 --user alice:alice-secret --user bob:bob-secret
//
// The settings mirror bench/kamailio/msrp-relay.cfg: digest MD5 (and
// SHA-256) with qop=auth, Expires 60–3600 s, plain TCP (loopback), no
// per-address or per-connection limits that Kamailio's config lacks.
// With --tls-cert and --tls-key it serves msrps instead (TLS from the
// first byte; Kamailio's benchmark config has no TLS counterpart).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/parley-im/parley/msrp/relay"
)

type users []string

func (u *users) String() string     { return strings.Join(*u, ",") }
func (u *users) Set(v string) error { *u = append(*u, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "relayd:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on (loopback only)")
	host := flag.String("host", "127.0.0.1", "host in the relay's URIs")
	pprof := flag.String("pprof", "", "serve net/http/pprof on this loopback address (e.g. 127.0.0.1:6060)")
	algs := flag.String("algorithms", "MD5", "digest algorithms challenged, comma-separated (Kamailio's config challenges MD5 only)")
	certFile := flag.String("tls-cert", "", "serve msrps (TLS, RFC 4976 §9.2) with this PEM certificate (needs --tls-key)")
	keyFile := flag.String("tls-key", "", "PEM private key of --tls-cert")
	var us users
	flag.Var(&us, "user", "account user:password (repeatable); default alice, bob, carol with <name>-secret")
	flag.Parse()
	if len(us) == 0 {
		us = users{"alice:alice-secret", "bob:bob-secret", "carol:carol-secret"}
	}
	auth := relay.NewMemoryAuthenticator()
	for _, u := range us {
		name, pw, ok := strings.Cut(u, ":")
		if !ok {
			return fmt.Errorf("--user %q: want user:password", u)
		}
		auth.Add(name, pw)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		ln.Close()
		return fmt.Errorf("refusing to listen on %s: this benchmark relay is for loopback only", ip)
	}
	var tc *tls.Config
	if *certFile != "" || *keyFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	s, err := relay.New(relay.Config{
		TLS:  tc,
		Host: *host, Realm: "parley.test", Authenticator: auth,
		Algorithms:         strings.Split(*algs, ","),
		AllowInsecure:      true,
		MinExpires:         60 * time.Second,
		MaxExpires:         3600 * time.Second,
		MaxConnsPerAddr:    -1,
		MaxSessionsPerConn: 1 << 20,
	})
	if err != nil {
		return err
	}
	if *pprof != "" {
		pl, err := net.Listen("tcp", *pprof)
		if err != nil {
			return err
		}
		go http.Serve(pl, nil)
		fmt.Println("pprof", pl.Addr())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGUSR1: collect garbage and give freed memory back to the OS now,
	// so that the idle benchmark can show the floor (the runtime
	// otherwise returns it gradually, and an idle relay allocates
	// nothing that would trigger a collection).
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			debug.FreeOSMemory()
			fmt.Println("freed OS memory")
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	fmt.Println("listening", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil && !errors.Is(err, relay.ErrServerClosed) {
		return err
	}
	return nil
}
