// Command sipd runs the same server as "parley serve" (package
// internal/server) with net/http/pprof on a loopback port, so that the SIP
// side-by-side benchmark can be profiled. Accounts come from the store in
// --data-dir ("parley user add … --data-dir DIR --domain 127.0.0.1").
//
//	go run ./bench/sipd --data-dir DIR --sip udp:127.0.0.1:5070 --pprof 127.0.0.1:6061
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/parley-im/parley/internal/server"
)

func main() {
	dataDir := flag.String("data-dir", "", "data directory holding parley.db (required)")
	sipL := flag.String("sip", "udp:127.0.0.1:5070", "SIP listeners (as parley serve --sip)")
	domain := flag.String("domain", "127.0.0.1", "SIP domain")
	pprof := flag.String("pprof", "127.0.0.1:6061", "pprof listen address (loopback)")
	flag.Parse()
	if err := run(*dataDir, *sipL, *domain, *pprof); err != nil {
		fmt.Fprintln(os.Stderr, "sipd:", err)
		os.Exit(1)
	}
}

func run(dataDir, sipL, domain, pprof string) error {
	if dataDir == "" {
		return fmt.Errorf("--data-dir is required")
	}
	ls, err := server.ParseListen(sipL)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pl, err := net.Listen("tcp", pprof)
	if err != nil {
		return err
	}
	go http.Serve(pl, nil)
	srv, err := server.New(ctx, server.Config{SIP: ls, DataDir: dataDir, DSN: "file:" + filepath.Join(dataDir, "parley.db"),
		Domains: []string{domain}, MSRPRelay: "off", CPIMRelay: "off", HTTP: "off"})
	if err != nil {
		return err
	}
	fmt.Println("listening", srv.Addrs().SIP, "pprof", pl.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
