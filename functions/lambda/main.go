// Command bootstrap is nhpush's AWS Lambda function (runtime
// provided.al2023, built with -tags lambda.norpc). One binary serves both
// functions of template.yaml: HTTP API / function URL events and SQS
// batches. Its nhclient is made at init, so warm invocations reuse its
// connections and token.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/handler/awslambda"
)

func main() {
	h, err := newHandler(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nhpush:", err)
		os.Exit(1)
	}
	lambda.Start(h.Invoke)
}

// newHandler checks the settings and builds the process's handler.
func newHandler(getenv func(string) string) (*awslambda.Handler, error) {
	cfg, err := handler.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	concurrency := 0
	if v := getenv("SQS_CONCURRENCY"); v != "" {
		if concurrency, err = strconv.Atoi(v); err != nil || concurrency < 1 || concurrency > 256 {
			return nil, fmt.Errorf("SQS_CONCURRENCY must be a number from 1 to 256, got %q", v)
		}
	}
	logger := cfg.NewLogger(os.Stderr)
	client, err := cfg.NewClient(context.Background(), logger, nil)
	if err != nil {
		return nil, err
	}
	return awslambda.NewHandler(handler.NewService(client, logger), logger, concurrency), nil
}
