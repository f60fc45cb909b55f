// Command nhemulator runs the local Azure Notification Hubs emulator
// (package nhtest) as a program: HTTPS on loopback, SAS verification, every
// NH route nhclient uses, and a control API under /_emulator/ to inspect
// what was sent and to inject faults.
//
// At start it prints the settings a client needs:
//
//	NH_CONNECTION_STRING=Endpoint=sb://127.0.0.1:7443/;SharedAccessKeyName=...;SharedAccessKey=...
//	NH_HUB_NAME=nhpush
//	SSL_CERT_FILE=/path/given/to/-ca-out
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nhpush/nhpush/nhclient/nhtest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "nhemulator:", err)
		os.Exit(1)
	}
}

// run starts the emulator as flags say, prints its settings to stdout and
// serves until ctx ends or SIGINT/SIGTERM arrives.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nhemulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:7443", "listen address (loopback); port 0 picks a free one")
	hubs := fs.String("hub", nhtest.DefaultHub, "hub name(s), comma-separated; the first is printed as NH_HUB_NAME")
	instFile := fs.String("installations", "", "JSON file with an array of installations to load into the first hub")
	caOut := fs.String("ca-out", "", "write the server certificate (PEM) here, for SSL_CERT_FILE")
	key := fs.String("key", "", "the full-access rule's key (default: random at each start)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	opts := nhtest.Options{Addr: *addr}
	for h := range strings.SplitSeq(*hubs, ",") {
		if h = strings.TrimSpace(h); h != "" {
			opts.Hubs = append(opts.Hubs, h)
		}
	}
	if *key != "" {
		opts.Rules = []nhtest.Rule{
			{Name: nhtest.FullRuleName, Key: *key, Rights: []string{nhtest.RightListen, nhtest.RightSend, nhtest.RightManage}},
		}
	}
	if *instFile != "" {
		b, err := os.ReadFile(*instFile)
		if err != nil {
			return fmt.Errorf("-installations: %w", err)
		}
		if err := json.Unmarshal(b, &opts.Installations); err != nil {
			return fmt.Errorf("-installations %s: not a JSON array of installations: %w", *instFile, err)
		}
	}
	srv := nhtest.NewUnstartedServer(opts)
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	if *caOut != "" {
		if err := os.WriteFile(*caOut, srv.CertificatePEM(), 0o644); err != nil {
			return fmt.Errorf("-ca-out: %w", err)
		}
	}
	fmt.Fprintf(stdout, "NH_CONNECTION_STRING=%s\n", srv.ConnectionString)
	fmt.Fprintf(stdout, "NH_HUB_NAME=%s\n", srv.Hub)
	if *caOut != "" {
		fmt.Fprintf(stdout, "SSL_CERT_FILE=%s\n", *caOut)
	}
	fmt.Fprintf(stderr, "nhemulator: serving %s on %s (control API: %s%s)\n", strings.Join(opts.Hubs, ", "), srv.URL, srv.URL, nhtest.ControlPrefix)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintln(stderr, "nhemulator: stopping")
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
