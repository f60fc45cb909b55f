package awslambda

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/internal/benchfloor"
	"github.com/nhpush/nhpush/internal/benchrun"
	"github.com/nhpush/nhpush/nhclient/nhtest"
)

// BenchmarkLambdaPath measures an HTTP API event -> HandleHTTP -> handler ->
// nhclient -> emulator against the two-hop floor: a plain function that
// decodes the same event, forwards its payload to the same emulator with a
// token signed once, and returns the response event. Concurrency 1 and 32;
// `make bench` prints the ratio.
func BenchmarkLambdaPath(b *testing.B) {
	emu := nhtest.NewServer()
	defer emu.Close()
	quiet := slog.New(slog.DiscardHandler)
	h := NewHandler(handler.NewService(benchfloor.DeployedClient(b, emu, quiet), quiet), quiet, 0)
	fwd := benchfloor.NewForwarder(emu)
	floor := func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		status, answer := fwd.Forward(ctx, []byte(e.Body))
		return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: answer}, nil
	}
	ev := httpEvent("POST", "/api/notifications", "$default", `{"platform":"apple","payload":{"aps":{"alert":"benchmark"}},"tags":["sports"]}`, false)
	for _, conc := range []int{1, 32} {
		for _, impl := range []struct {
			name string
			fn   func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		}{{"floor", floor}, {"lambda", h.HandleHTTP}} {
			b.Run(fmt.Sprintf("%s/c=%d", impl.name, conc), func(b *testing.B) {
				emu.Reset()
				benchrun.Concurrently(b, conc, func() error {
					resp, _ := impl.fn(context.Background(), ev)
					if resp.StatusCode != 201 {
						return fmt.Errorf("status %d: %s", resp.StatusCode, resp.Body)
					}
					return nil
				})
			})
		}
	}
}
