// Package proctest runs nhpush's binaries as processes in tests: it builds
// them once per test binary, finds free ports, waits for a process to
// listen, collects its output, and reads its memory from /proc.
package proctest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var builds sync.Map // package path + tags -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the main package pkg (a path relative to the caller's
// directory, such as "." or "../functions/azure") once per test binary,
// with CGO off and the given build tags, and returns the binary's path.
func Build(t testing.TB, pkg string, tags ...string) string {
	t.Helper()
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := builds.LoadOrStore(abs+"|"+strings.Join(tags, ","), &build{})
	b := v.(*build)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "nhpush-proctest")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(abs))
		args := []string{"build", "-o", b.path}
		if len(tags) > 0 {
			args = append(args, "-tags", strings.Join(tags, ","))
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Dir = abs
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Buffer is a bytes.Buffer safe for a process's output and the test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }

// String returns what was written.
func (l *Buffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// Process is a started command with its output collected.
type Process struct {
	Cmd     *exec.Cmd
	Output  *Buffer
	Started time.Time
	done    chan error
	exit    error
	exited  bool
	mu      sync.Mutex
}

// Start starts bin with args and exactly env (plus PATH), stops it when the
// test ends, and collects its stdout and stderr.
func Start(t testing.TB, env []string, bin string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p := &Process{Cmd: cmd, Output: &Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.Output, p.Output
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); p.Exited(5 * time.Second) })
	return p
}

// Exited waits up to d for the process to exit: whether it has, and its
// exit error.
func (p *Process) Exited(d time.Duration) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return true, p.exit
	}
	select {
	case p.exit = <-p.done:
		p.exited = true
		return true, p.exit
	case <-time.After(d):
		return false, nil
	}
}

// WaitListening waits until addr accepts connections, failing the test if
// the process exits first or 10 s pass.
func (p *Process) WaitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if exited, err := p.Exited(0); exited {
			t.Fatalf("%s exited (%v) before listening on %s:\n%s", p.Cmd.Path, err, addr, p.Output)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s:\n%s", p.Cmd.Path, addr, p.Output)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// MemoryKiB returns the VmRSS and VmHWM (peak) of process pid, in KiB.
func MemoryKiB(pid int) (rss, peak int, err error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			peak = n
		}
	}
	return rss, peak, nil
}

// ChildPID returns the pid of a child of ppid (the bootstrap the Lambda
// RIE started, say).
func ChildPID(ppid int) (int, error) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	want := strconv.Itoa(ppid)
	for _, d := range dirs {
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) >= 2 && fields[1] == want {
			return strconv.Atoi(filepath.Base(d))
		}
	}
	return 0, fmt.Errorf("no child of %d", ppid)
}

// RIE returns the Lambda Runtime Interface Emulator: AWS_LAMBDA_RIE, else
// the pinned one `make rie` installs into the module's bin/, else one on
// PATH. The tests that need it fail (never skip) when there is none.
func RIE(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AWS_LAMBDA_RIE"); p != "" {
		return p
	}
	if out, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		p := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	t.Fatal("aws-lambda-rie not found: run `make rie` (make test does) to install the pinned Runtime Interface Emulator into bin/")
	return ""
}

// StartRIE runs bootstrap under the RIE with env, waits until it listens,
// and returns the process and the invocation URL.
func StartRIE(t testing.TB, env []string, bootstrap string) (*Process, string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	p := Start(t, env, RIE(t), "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", FreePort(t)), bootstrap)
	p.WaitListening(t, addr)
	return p, "http://" + addr + "/2015-03-31/functions/function/invocations"
}
