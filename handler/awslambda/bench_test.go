package awslambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/nhpush/nhpush/handler"
	"github.com/nhpush/nhpush/nhclient"
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
	// The client as deployed: its own transport, trusting the emulator
	// through SSL_CERT_FILE (read at the process's first verification).
	ca := filepath.Join(b.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, emu.CertificatePEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	os.Setenv("SSL_CERT_FILE", ca)
	client, err := nhclient.NewClientFromConnectionString(emu.ConnectionString, emu.Hub, &nhclient.ClientOptions{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	h := NewHandler(handler.NewService(client, quiet), quiet, 0)
	cs, _ := nhclient.ParseConnectionString(emu.ConnectionString)
	token := nhclient.GenerateSASToken(emu.URL+"/"+emu.Hub, cs.KeyName, cs.Key, time.Now().Add(time.Hour))
	nhURL := emu.URL + "/" + emu.Hub + "/messages/?api-version=2020-06"
	nh := emu.Client()
	floor := func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		var req struct {
			Platform string          `json:"platform"`
			Payload  json.RawMessage `json:"payload"`
			Tags     []string        `json:"tags"`
		}
		if err := json.Unmarshal([]byte(e.Body), &req); err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: 400}, nil
		}
		out, _ := http.NewRequestWithContext(ctx, http.MethodPost, nhURL, bytes.NewReader(req.Payload))
		out.Header["Content-Type"] = []string{"application/json;charset=utf-8"}
		out.Header["Servicebusnotification-Format"] = []string{req.Platform}
		out.Header["Servicebusnotification-Tags"] = []string{req.Tags[0]}
		out.Header["Authorization"] = []string{token}
		resp, err := nh.Do(out)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: 502}, nil
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return events.APIGatewayV2HTTPResponse{StatusCode: resp.StatusCode, Headers: map[string]string{"Content-Type": "application/json"},
			Body: fmt.Sprintf(`{"kind":"send","trackingId":%q}`, resp.Header.Get("TrackingId"))}, nil
	}
	ev := httpEvent("POST", "/api/notifications", "$default", `{"platform":"apple","payload":{"aps":{"alert":"benchmark"}},"tags":["sports"]}`, false)
	for _, conc := range []int{1, 32} {
		for _, impl := range []struct {
			name string
			fn   func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		}{{"floor", floor}, {"lambda", h.HandleHTTP}} {
			b.Run(fmt.Sprintf("%s/c=%d", impl.name, conc), func(b *testing.B) {
				emu.Reset()
				b.ReportAllocs()
				call := func() {
					resp, _ := impl.fn(context.Background(), ev)
					if resp.StatusCode != 201 {
						b.Errorf("status %d: %s", resp.StatusCode, resp.Body)
					}
				}
				if conc == 1 {
					for b.Loop() {
						call()
					}
					return
				}
				b.SetParallelism((conc + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						call()
					}
				})
			})
		}
	}
}
