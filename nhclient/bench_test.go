package nhclient_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhpush/nhpush/internal/benchrun"
	"github.com/nhpush/nhpush/nhclient"
)

// TestMain doubles as the benchmark's server: run with
// NHCLIENT_BENCH_SERVER=1 the test binary serves a floor NH (201 with
// Location and TrackingId for every POST) over TLS, in its own process, so
// that the benchmark's allocations are the client's alone.
func TestMain(m *testing.M) {
	if os.Getenv("NHCLIENT_BENCH_SERVER") == "1" {
		serveFloor()
		return
	}
	os.Exit(m.Run())
}

func serveFloor() {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Location", "https://"+r.Host+"/hub/messages/1?api-version=2020-06")
		w.Header().Set("TrackingId", "t")
		w.WriteHeader(http.StatusCreated)
	}))
	srv.StartTLS()
	fmt.Printf("%s %s\n", srv.URL, base64.StdEncoding.EncodeToString(srv.Certificate().Raw))
	io.Copy(io.Discard, os.Stdin) // serve until the parent closes stdin
	srv.Close()
}

// startFloor runs the floor server in a child process and returns its URL.
// Its certificate is trusted the way a deployment trusts one, through
// SSL_CERT_FILE, so that both sides use their default TLS set-up.
func startFloor(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NHCLIENT_BENCH_SERVER=1", "GOMAXPROCS=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	url, certB64, _ := strings.Cut(strings.TrimSpace(line), " ")
	der, _ := base64.StdEncoding.DecodeString(certB64)
	ca := filepath.Join(b.TempDir(), "floor.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		b.Fatal(err)
	}
	os.Setenv("SSL_CERT_FILE", ca) // read once, at the process's first verification
	return url
}

// BenchmarkSend compares nhclient's Send with plain net/http doing the same
// POST (same URL, headers and body, a token signed once) to the same TLS
// server, at concurrency 1 and 32. `make bench` prints the ratio.
func BenchmarkSend(b *testing.B) {
	url := startFloor(b)
	body := []byte(`{"aps":{"alert":"benchmark"}}`)
	sendURL := url + "/hub/messages/?api-version=2020-06"
	token := nhclient.GenerateSASToken(url+"/hub", "rule", "secret", time.Now().Add(time.Hour))
	for _, conc := range []int{1, 32} {
		b.Run(fmt.Sprintf("plain/c=%d", conc), func(b *testing.B) {
			hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 100, MaxIdleConnsPerHost: 100, IdleConnTimeout: 90 * time.Second}}
			benchrun.Concurrently(b, conc, func() error { return benchrun.PlainSend(hc, sendURL, token, body, "") })
		})
		b.Run(fmt.Sprintf("nhclient/c=%d", conc), func(b *testing.B) {
			c, err := nhclient.NewClient(url, "hub", nhclient.Key{Name: "rule", Value: "secret"}, nil) // the defaults
			if err != nil {
				b.Fatal(err)
			}
			n := nhclient.NewAppleNotification(body, nil)
			benchrun.Concurrently(b, conc, func() error {
				_, err := c.Send(context.Background(), n, nil)
				return err
			})
		})
	}
}
