package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// rieBinary finds the Lambda Runtime Interface Emulator that make installs
// into bin/ (or AWS_LAMBDA_RIE, or one on PATH).
func rieBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AWS_LAMBDA_RIE"); p != "" {
		return p
	}
	if p, err := filepath.Abs("../bin/aws-lambda-rie"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	t.Fatal("aws-lambda-rie not found: run `make rie` to install the pinned Runtime Interface Emulator into bin/")
	return ""
}
