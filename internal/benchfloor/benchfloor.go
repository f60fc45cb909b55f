// Package benchfloor holds what nhpush's path benchmarks compare against and
// run with: a floor forwarder that sends a request's payload to NH the way
// a minimal hand-written function would (a token signed once, no
// validation, no retries), and the nhclient set up as it is deployed.
package benchfloor

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
	"testing"
	"time"

	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/nhtest"
)

// Forwarder is the floor: it decodes a send request and POSTs its payload
// to the emulator's hub.
type Forwarder struct {
	nh         *http.Client
	url, token string
}

// NewForwarder returns a floor for emu's hub, with a token signed once.
func NewForwarder(emu *nhtest.Server) *Forwarder {
	cs, _ := nhclient.ParseConnectionString(emu.ConnectionString)
	return &Forwarder{
		nh:    emu.Client(),
		url:   emu.URL + "/" + emu.Hub + "/messages/?api-version=2020-06",
		token: nhclient.GenerateSASToken(emu.URL+"/"+emu.Hub, cs.KeyName, cs.Key, time.Now().Add(time.Hour)),
	}
}

// Forward sends the payload of the send request body with its platform and
// first tag, and returns NH's status and a JSON answer.
func (f *Forwarder) Forward(ctx context.Context, body []byte) (int, string) {
	var req struct {
		Platform string          `json:"platform"`
		Payload  json.RawMessage `json:"payload"`
		Tags     []string        `json:"tags"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Tags) == 0 {
		return http.StatusBadRequest, `{"error":"bad request"}`
	}
	out, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(req.Payload))
	out.Header["Content-Type"] = []string{"application/json;charset=utf-8"}
	out.Header["Servicebusnotification-Format"] = []string{req.Platform}
	out.Header["Servicebusnotification-Tags"] = []string{req.Tags[0]}
	out.Header["Authorization"] = []string{f.token}
	resp, err := f.nh.Do(out)
	if err != nil {
		return http.StatusBadGateway, `{"error":"no answer"}`
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, fmt.Sprintf(`{"kind":"send","trackingId":%q}`, resp.Header.Get("TrackingId"))
}

// DeployedClient returns an nhclient for emu as it runs when deployed: its
// own transport, trusting the emulator through SSL_CERT_FILE (which the
// process reads at its first certificate verification, so call this before
// any other TLS in the benchmark binary).
func DeployedClient(b testing.TB, emu *nhtest.Server, logger *slog.Logger) *nhclient.Client {
	b.Helper()
	ca := filepath.Join(b.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, emu.CertificatePEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	os.Setenv("SSL_CERT_FILE", ca)
	client, err := nhclient.NewClientFromConnectionString(emu.ConnectionString, emu.Hub, &nhclient.ClientOptions{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	return client
}
