package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhpush/nhpush/internal/proctest"
	"github.com/nhpush/nhpush/nhclient/nhtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The handler with no secret in its settings: only the hub's ARM id and the
// App Service managed-identity variables. The real azidentity code path gets
// a token from the emulator's identity endpoint and lists the keys through
// its ARM route.

const hubResourceID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.NotificationHubs/namespaces/emulator/notificationHubs/nhpush"

func identityEnv(emu *nhtest.Server) []string {
	return []string{
		"NH_RESOURCE_ID=" + hubResourceID,
		"NH_ARM_ENDPOINT=" + emu.URL,
		"IDENTITY_ENDPOINT=" + emu.IdentityEndpoint(),
		"IDENTITY_HEADER=" + emu.IdentityHeader(),
		"NH_DEBUG=1",
	}
}

func TestManagedIdentityEndToEnd(t *testing.T) {
	p := startHandlerWith(t, identityEnv)
	send := `{"platform":"apple","payload":{"aps":{"alert":"mi"}}}`
	for range 5 {
		st, body := p.post(t, "/api/notifications", "application/json", send)
		require.Equal(t, 201, st, "%s\n%s", body, p.Output.String())
	}
	assert.Equal(t, nhtest.IdentityStats{TokenRequests: 1, ListKeysCalls: 1}, p.emu.IdentityStats(), "the token and the key are fetched once per process")

	newKey, err := p.emu.RotateKey(nhtest.FullRuleName)
	require.NoError(t, err)
	st, body := p.post(t, "/api/notifications", "application/json", send)
	require.Equal(t, 201, st, "after a key rotation the next send still succeeds: %s", body)
	stats := p.emu.IdentityStats()
	assert.Equal(t, 2, stats.ListKeysCalls, "one refresh")
	assert.Equal(t, 1, stats.TokenRequests, "the ARM token is reused")

	// The queue function too.
	st, _ = p.post(t, "/notifications-queue", "application/json", queueInvocation(send, true))
	assert.Equal(t, 200, st)
	assert.Len(t, p.emu.Notifications(), 7)

	logs := p.Output.String()
	require.Contains(t, logs, "nhclient: request")
	assert.NotContains(t, logs, newKey)
	assert.NotContains(t, logs, p.emu.IdentityHeader())
	assert.NotContains(t, logs, "emu-token-", "no ARM token in the logs")
	assert.NotContains(t, logs, "SharedAccessKey=")
}

func TestManagedIdentityErrorsAtStart(t *testing.T) {
	bin := proctest.Build(t, ".")
	emu := nhtest.NewServer()
	defer emu.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, emu.CertificatePEM(), 0o600))
	run := func(env ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SSL_CERT_FILE=" + ca, "FUNCTIONS_CUSTOMHANDLER_PORT=" + fmt.Sprint(proctest.FreePort(t))}, env...)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "%s", out)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		require.Len(t, lines, 1, "one line: %s", out)
		return lines[0]
	}
	emu.SetListKeysAllowed(false)
	line := run(identityEnv(emu)...)
	assert.Contains(t, line, "nhpush: NH_RESOURCE_ID (managed identity): the identity may not list the hub's keys")
	assert.Contains(t, line, "Microsoft.NotificationHubs/namespaces/notificationHubs/authorizationRules/listkeys/action")
	emu.SetListKeysAllowed(true)

	line = run(append(identityEnv(emu), "NH_AUTH_RULE=NoSuchRule")...)
	assert.Contains(t, line, "hub or authorization rule not found")

	line = run("NH_RESOURCE_ID="+hubResourceID, "NH_ARM_ENDPOINT="+emu.URL, "IDENTITY_ENDPOINT="+emu.IdentityEndpoint(), "IDENTITY_HEADER=wrong")
	assert.Contains(t, line, "no Azure identity available")
	assert.NotContains(t, line, emu.IdentityHeader())

	line = run("NH_RESOURCE_ID=/subscriptions/x/resourceGroups/rg")
	assert.Contains(t, line, "NH_RESOURCE_ID / NH_ARM_ENDPOINT: invalid hub resource id")
}
