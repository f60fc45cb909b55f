// Command handler is nhpush's Azure Functions custom handler: the host
// starts it, proxies the HTTP functions (notifications, installations) to
// it raw, and POSTs the queue function's invocations (notifications-queue).
// It listens on FUNCTIONS_CUSTOMHANDLER_PORT, makes one nhclient for the
// process, and stops gracefully on SIGTERM.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/handler/azfunc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "nhpush:", err)
		os.Exit(1)
	}
}

// run checks the settings, then serves until ctx ends.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer) error {
	cfg, err := handler.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	port := getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("FUNCTIONS_CUSTOMHANDLER_PORT must be a port number (the Functions host sets it), got %q", port)
	}
	cfg.Credential = func() (azcore.TokenCredential, error) { return azidentity.NewDefaultAzureCredential(nil) }
	logger := cfg.NewLogger(logOut)
	client, err := cfg.NewClient(ctx, logger, nil)
	if err != nil {
		return err
	}
	h := azfunc.NewHandler(handler.NewService(client, logger), logger)
	return azfunc.Serve(ctx, "127.0.0.1:"+port, h, 20*time.Second, func(addr string) {
		logger.Info("nhpush custom handler listening", "addr", addr, "hub", client.Hub())
	})
}
