package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Require returns the path of binary. When it is missing the test is skipped
// with the Debian package to install, or fails when CI=true so that CI cannot
// pass by skipping.
func Require(t testing.TB, binary, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(binary); err == nil {
		return p
	}
	// Daemons such as slapd live in /usr/sbin, which is not in every PATH.
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		p := filepath.Join(dir, binary)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found in PATH or /usr/sbin: apt-get install %s", binary, debianPackage)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
		return ""
	}
	t.Skip(msg)
	return ""
}

// FreePort returns a TCP port that was free on host a moment ago. Another
// process may take it before the caller binds it; the starters below retry
// with a new port when that happens.
func FreePort(t testing.TB, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("testenv: find a free port on %s: %v", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a child process run in the foreground, with its output kept for
// failure messages.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *Buffer
	done chan struct{}
	err  error // result of Wait, valid once done is closed
}

func startProcess(name, path string, args ...string) (*process, error) {
	p := &process{name: name, out: &Buffer{limit: 1 << 20}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// kill ends a process that failed to become ready.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to shut down cleanly (slapd flushes its database on
// SIGTERM) and kills it if it does not within 10 s.
func (p *process) stop(t testing.TB) {
	t.Helper()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("testenv: %s did not stop on SIGTERM, killed; output:\n%s", p.name, p.out.String())
	}
}

// waitReady polls probe until it succeeds. It returns an error when the
// process exits first or the deadline passes.
func (p *process) waitReady(timeout time.Duration, probe func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before it was ready; output:\n%s", p.name, p.err, p.out.String())
		}
		if last = probe(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v; output:\n%s", p.name, timeout, last, p.out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// startWithRetry starts a server on a free port, retrying with a new port a
// few times when the process dies before it is ready (usually because another
// process took the port between FreePort and the bind).
func startWithRetry(t testing.TB, start func(port int) (*process, error)) (*process, int) {
	t.Helper()
	return startWithRetryOn(t, "127.0.0.1", start)
}

// startWithRetryOn is startWithRetry with ports of host.
func startWithRetryOn(t testing.TB, host string, start func(port int) (*process, error)) (*process, int) {
	t.Helper()
	var err error
	for range 3 {
		port := FreePort(t, host)
		var p *process
		if p, err = start(port); err == nil {
			return p, port
		}
	}
	t.Fatalf("testenv: %v", err)
	return nil, 0
}

func portString(port int) string { return strconv.Itoa(port) }
