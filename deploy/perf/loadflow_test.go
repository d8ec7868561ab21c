// Package perf measures the production binary under load: see README.md.
package perf

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// settings are the run's parameters, from the environment (make loadflow
// sets them from its variables).
type settings struct {
	idp, loadflow string // binaries
	concurrency   int
	duration      string
	alg           string // RS256 or ES256
	users         int
	procs         int // the provider's GOMAXPROCS; 0: the runtime's default
}

func settingsFrom(t *testing.T) settings {
	t.Helper()
	if os.Getenv("IDP_LOADFLOW") != "1" {
		t.Skip("IDP_LOADFLOW=1 runs the load test (make loadflow)")
	}
	num := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive number", name, v)
		}
		return n
	}
	s := settings{
		idp: os.Getenv("IDP_BIN"), loadflow: os.Getenv("LOADFLOW_BIN"),
		concurrency: num("LOADFLOW_C", 16), duration: cmpOr(os.Getenv("LOADFLOW_D"), "20s"),
		alg: cmpOr(os.Getenv("LOADFLOW_ALG"), "ES256"), users: num("LOADFLOW_USERS", 1000),
		procs: 1, // what deploy/k8s/idp.yaml gives each replica (its CPU request, rounded up)
	}
	if v := os.Getenv("LOADFLOW_PROCS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("LOADFLOW_PROCS=%q: want a number, 0 for the runtime's default", v)
		}
		s.procs = n
	}
	for _, b := range []string{s.idp, s.loadflow} {
		if !filepath.IsAbs(b) {
			t.Fatalf("IDP_BIN and LOADFLOW_BIN must be absolute paths of built binaries (got %q)", b)
		}
	}
	if s.alg != "RS256" && s.alg != "ES256" {
		t.Fatalf("LOADFLOW_ALG=%q: RS256 or ES256", s.alg)
	}
	return s
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

const (
	clientID     = "loadflow"
	redirectURI  = "http://127.0.0.1:9999/callback"
	clientSecret = "loadflow-client-secret-0123456789abcdef"
)

// writeConfig writes the production configuration for the test's slapd,
// redis-server and SMTP sink: every default kept (throttle on, access
// log at info, JSON logs), only the addresses, secrets and one client
// given; insecure_loopback because the driver talks http on loopback.
func writeConfig(t *testing.T, set settings, listen string, sl *testenv.Slapd, rd *testenv.Redis, smtpPort int) string {
	t.Helper()
	dir := t.TempDir()
	file := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() string {
		var b [32]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
	wk, err := job.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(clientSecret))
	cfg := `issuer: http://` + listen + `
listen: "` + listen + `"
insecure_loopback: true
support_url: https://support.example/
redis:
  addrs: ["` + rd.Addr + `"]
secrets:
  crypto_key_file: ` + file("crypto", key()) + `
  cookie_key_file: ` + file("cookie", key()) + `
oidc:
  signing_algorithm: ` + set.alg + `
clients:
  - id: ` + clientID + `
    secret_sha256: ` + hex.EncodeToString(sum[:]) + `
    redirect_uris: ["` + redirectURI + `"]
ldap:
  urls: ["` + sl.URL + `"]
  bind_dn: "` + sl.ReaderDN + `"
  bind_password_file: ` + file("ldap", sl.ReaderPassword) + `
  base_dn: "` + sl.PeopleDN + `"
mail:
  host: 127.0.0.1
  port: ` + strconv.Itoa(smtpPort) + `
  tls: plain
ldapsync:
  public_key: ` + job.MarshalPublicKey(wk.PublicKey()) + `
  signing_key_file: ` + file("signing", key()) + `
`
	return file("idp.yaml", cfg)
}

// cpuTicks is the process's user and system CPU time in clock ticks
// (fields 14 and 15 of /proc/<pid>/stat, counted after the command name,
// which may hold spaces, in parentheses).
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return ut + st
}

// machineTicks is the machine's busy CPU time (every CPU, idle and iowait
// left out) and the part of it the hypervisor gave to other guests
// (steal), in clock ticks, from the first line of /proc/stat.
func machineTicks(t *testing.T) (busy, steal int64) {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("/proc/stat: %q", line)
		}
		switch i {
		case 3, 4: // idle, iowait
		case 7:
			steal = n
		default:
			busy += n
		}
	}
	return busy, steal
}

// treeTicks is the CPU time of this test process and of every process
// under it (slapd, redis-server, the provider, loadflow), the ones it
// waited for included, in clock ticks: what the rest of the machine's
// busy time is not.
func treeTicks(t *testing.T) int64 {
	t.Helper()
	type proc struct {
		ppid  int
		ticks int64
	}
	procs := map[int]proc{}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone meanwhile
		}
		// After the name: f[1] is field 4 (ppid); utime, stime, cutime,
		// cstime are fields 14 to 17.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		var ticks int64
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
		procs[pid] = proc{ppid, ticks}
	}
	self := os.Getpid()
	var sum int64
	for pid, p := range procs {
		for a := pid; a > 1; a = procs[a].ppid {
			if a == self {
				sum += p.ticks
				break
			}
			if _, ok := procs[a]; !ok {
				break
			}
		}
	}
	return sum
}

// clockTicks is sysconf(_SC_CLK_TCK), from getconf; 100 on Linux when
// getconf is missing.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if n, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && perr == nil && n > 0 {
		return n
	}
	return 100
}

// report is the part of loadflow's -json report printed here.
type report struct {
	Concurrency  int     `json:"concurrency"`
	Seconds      float64 `json:"seconds"`
	Completed    int     `json:"completed"`
	Failed       int     `json:"failed"`
	LoginsPerSec float64 `json:"logins_per_sec"`
	Login        struct {
		P50 float64 `json:"p50_ms"`
		P90 float64 `json:"p90_ms"`
		P99 float64 `json:"p99_ms"`
	} `json:"login"`
	PostToCode struct {
		P50 float64 `json:"p50_ms"`
		P90 float64 `json:"p90_ms"`
		P99 float64 `json:"p99_ms"`
	} `json:"post_to_code"`
	Errors      map[string]int    `json:"errors"`
	FirstErrors map[string]string `json:"first_errors"`
}

// TestLoadflow runs the production binary (IDP_BIN, built from cmd/idp)
// against slapd seeded with LOADFLOW_USERS people and redis-server, drives
// it with loadflow (LOADFLOW_BIN) from one address, and prints loadflow's
// results and the provider's CPU time per completed sign-in. It fails
// when a valid sign-in was refused or failed.
func TestLoadflow(t *testing.T) {
	set := settingsFrom(t)
	sl := testenv.StartSlapd(t, testenv.SlapdOptions{NumberedUsers: set.users})
	rd := testenv.StartRedis(t)
	smtp := testenv.StartSMTP(t)
	listen := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t, "127.0.0.1"))
	conf := writeConfig(t, set, listen, sl, rd, smtp.Port)

	logPath := filepath.Join(t.TempDir(), "idp.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	idp := exec.Command(set.idp, "serve", "--config", conf)
	idp.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") })
	if set.procs > 0 {
		idp.Env = append(idp.Env, "GOMAXPROCS="+strconv.Itoa(set.procs))
	}
	idp.Stdout, idp.Stderr = logFile, logFile
	if err := idp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = idp.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = idp.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = idp.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("idp log (end):\n%s", tail(b, 4000))
		}
	})
	issuer := "http://" + listen
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		resp, err := http.Get(issuer + "/.well-known/openid-configuration")
		if err != nil {
			return false, fmt.Sprintf("idp not answering: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("discovery: %d", resp.StatusCode)
	})

	procs := runningProcs(t, logPath)
	if set.procs > 0 && procs != set.procs {
		t.Fatalf("the provider runs at GOMAXPROCS %d, want %d", procs, set.procs)
	}

	successes := func() int {
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Count(b, []byte(`"audit":"signin.success"`))
	}
	jsonPath := filepath.Join(t.TempDir(), "loadflow.json")
	args := []string{
		"-issuer", issuer, "-client-id", clientID, "-client-secret", clientSecret, "-redirect-uri", redirectURI,
		"-users-pattern", "user%d", "-password-pattern", "password%d", "-users", strconv.Itoa(set.users),
		"-username-field", "login", "-password-field", "password",
		"-concurrency", strconv.Itoa(set.concurrency), "-duration", set.duration, "-warmup", "2s",
		"-json", jsonPath,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	busyBefore, stealBefore := machineTicks(t)
	oursBefore := treeTicks(t)
	before, signedBefore, began := cpuTicks(t, idp.Process.Pid), successes(), time.Now()
	out, err := exec.CommandContext(ctx, set.loadflow, args...).CombinedOutput()
	after, signedAfter, elapsed := cpuTicks(t, idp.Process.Pid), successes(), time.Since(began)
	busyAfter, stealAfter := machineTicks(t)
	oursAfter := treeTicks(t)
	t.Logf("loadflow %s\n%s", strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("loadflow: %v", err)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("loadflow report: %v", err)
	}

	cpuMs := float64(after-before) * 1000 / float64(clockTicks())
	signed := signedAfter - signedBefore
	// loadflow's failed counts every error; refusals are shown apart.
	refused := r.Errors["login_rejected"] + r.Errors["http_429"]
	failed := r.Failed - refused
	t.Logf("RESULT alg=%s c=%d users=%d GOMAXPROCS=%d: sign-ins/s=%.1f completed=%d refused=%d failed=%d login p50=%.2fms p90=%.2fms p99=%.2fms; login POST→code p50=%.2fms p90=%.2fms p99=%.2fms",
		set.alg, r.Concurrency, set.users, procs, r.LoginsPerSec, r.Completed, refused, failed,
		r.Login.P50, r.Login.P90, r.Login.P99, r.PostToCode.P50, r.PostToCode.P90, r.PostToCode.P99)
	if signed > 0 {
		t.Logf("RESULT idp CPU: %.0f ms over %v for %d sign-ins (warm-up included): %.2f ms CPU per sign-in, %.2f cores",
			cpuMs, elapsed.Round(time.Millisecond), signed, cpuMs/float64(signed), cpuMs/float64(elapsed.Milliseconds()))
	}
	// A run is only comparable with another on a quiet machine: what other
	// processes (and other guests, as steal) took meanwhile is shown.
	cores := func(ticks int64) float64 {
		return float64(ticks) / float64(clockTicks()) / elapsed.Seconds()
	}
	t.Logf("RESULT machine (%d CPUs) meanwhile: this test's processes %.2f cores, other processes %.2f cores, steal %.2f cores",
		runtime.NumCPU(), cores(oursAfter-oursBefore), cores(max(busyAfter-busyBefore-(oursAfter-oursBefore), 0)), cores(stealAfter-stealBefore))
	if refused > 0 || failed > 0 {
		t.Errorf("%d valid sign-ins refused and %d failed: %v %v", refused, failed, r.Errors, r.FirstErrors)
	}
	if r.Completed == 0 {
		t.Error("no sign-in completed")
	}
}

// runningProcs is the GOMAXPROCS the provider says it runs with, in its
// listening line.
func runningProcs(t *testing.T, logPath string) int {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(b) {
		var l struct {
			Msg        string `json:"msg"`
			GOMAXPROCS int    `json:"gomaxprocs"`
		}
		if json.Unmarshal(line, &l) == nil && l.Msg == "listening" {
			return l.GOMAXPROCS
		}
	}
	t.Fatalf("no listening line in the provider's log:\n%s", tail(b, 2000))
	return 0
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
