package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nhpush/nhpush/internal/proctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunPrintsSettingsAndServes(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	insts := filepath.Join(dir, "inst.json")
	require.NoError(t, os.WriteFile(insts, []byte(`[{"installationId":"demo","platform":"apns","pushChannel":"tok","tags":["x"]}]`), 0o644))

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-hub", "h1,h2", "-ca-out", ca, "-installations", insts, "-key", "a2V5"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	settings := map[string]string{}
	for len(settings) < 3 && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		settings[k] = v
	}
	go io.Copy(io.Discard, pr)
	assert.Equal(t, "h1", settings["NH_HUB_NAME"])
	assert.Equal(t, ca, settings["SSL_CERT_FILE"])
	cs := settings["NH_CONNECTION_STRING"]
	assert.Regexp(t, `^Endpoint=sb://127\.0\.0\.1:\d+/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=a2V5$`, cs)

	pem, err := os.ReadFile(ca)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	host := strings.TrimSuffix(strings.TrimPrefix(strings.Split(cs, ";")[0], "Endpoint=sb://"), "/")
	resp, err := hc.Get("https://" + host + "/_emulator/installations?hub=h1")
	require.NoError(t, err, "the written certificate is trusted")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), `"installationId": "demo"`)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("did not stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{`), 0o644)
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-installations", filepath.Join(dir, "missing.json")}, {"-installations", bad}, {"-addr", "256.0.0.1:1"}} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		assert.Error(t, err, args)
	}
}

// TestStopsOnSIGTERM runs the emulator as a program and stops it with
// SIGTERM, as make run and users do.
func TestStopsOnSIGTERM(t *testing.T) {
	port := proctest.FreePort(t)
	p := proctest.Start(t, nil, proctest.Build(t, "."), "-addr", fmt.Sprintf("127.0.0.1:%d", port))
	p.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", port))
	require.Eventually(t, func() bool { return strings.Contains(p.Output.String(), "NH_HUB_NAME=nhpush") }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	exited, err := p.Exited(5 * time.Second)
	require.True(t, exited, "stops on SIGTERM")
	assert.NoError(t, err, "exits 0")
	assert.Contains(t, p.Output.String(), "nhemulator: stopping")
}
