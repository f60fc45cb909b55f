package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBootstrapSize keeps the deployed bootstrap (linux/arm64, stripped,
// lambda.norpc) within its 8 MiB budget: a dependency that pulls in a large
// tree shows here, not in production cold starts.
func TestBootstrapSize(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	fi, err := os.Stat(out)
	require.NoError(t, err)
	t.Logf("bootstrap linux/arm64: %d bytes (%.2f MiB)", fi.Size(), float64(fi.Size())/(1<<20))
	require.LessOrEqual(t, fi.Size(), int64(8<<20), "the bootstrap is over 8 MiB")
}
