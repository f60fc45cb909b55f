package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhpush/nhpush/internal/proctest"
	"github.com/nhpush/nhpush/nhclient/nhtest"
)

// BenchmarkColdStart measures process start to the first request answered:
// the custom handler binary starts, listens, and answers one send, which
// includes its first TLS handshake to NH (the emulator). One op is one
// cold start.
func BenchmarkColdStart(b *testing.B) {
	bin := proctest.Build(b, ".")
	emu := nhtest.NewServer()
	defer emu.Close()
	ca := filepath.Join(b.TempDir(), "ca.pem")
	os.WriteFile(ca, emu.CertificatePEM(), 0o600)
	body := `{"platform":"apple","payload":{"aps":{"alert":"cold"}}}`
	for b.Loop() {
		port := fmt.Sprint(proctest.FreePort(b))
		cmd := exec.Command(bin)
		cmd.Env = []string{"FUNCTIONS_CUSTOMHANDLER_PORT=" + port, "NH_CONNECTION_STRING=" + emu.ConnectionString, "NH_HUB_NAME=" + emu.Hub, "SSL_CERT_FILE=" + ca, "LOG_LEVEL=error"}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for {
			c, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err == nil {
				c.Close()
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		resp, err := httpClient.Post("http://127.0.0.1:"+port+"/api/notifications", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("first request: %v %v", err, resp)
		}
		resp.Body.Close()
		b.StopTimer()
		cmd.Process.Kill()
		cmd.Wait()
		b.StartTimer()
	}
}
