// Package deploy_test keeps the deployment files in step with the code:
// the images' Dockerfiles, deploy/compose.yaml and the Kubernetes
// manifests of deploy/k8s, and the configurations they mount. It holds
// tests only.
package deploy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

// stage is one FROM and the instructions after it.
type stage struct {
	from, name string
	body       []instruction
}

func parseDockerfile(t *testing.T, file string) []stage {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(string(data), "\n") {
		trim := strings.TrimSpace(l)
		if cur.Len() == 0 && (trim == "" || strings.HasPrefix(trim, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasPrefix(trim, "#") {
			continue // a comment inside a continued instruction
		}
		if s, ok := strings.CutSuffix(trim, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trim)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		switch in.cmd {
		case "FROM":
			f := strings.Fields(in.args)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		case "ARG":
			if len(stages) == 0 {
				continue // global build argument
			}
			fallthrough
		default:
			if len(stages) == 0 {
				t.Fatalf("%s:%d: %s before FROM", file, start, in.cmd)
			}
			stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
		}
	}
	return stages
}

// TestDockerfiles checks each image's final stage: FROM scratch, no RUN
// (there is no shell), a numeric non-root USER, an exec-form ENTRYPOINT
// naming the binary the build stage made (static, -trimpath), the CA
// certificates and a passwd entry.
func TestDockerfiles(t *testing.T) {
	t.Parallel()
	for _, img := range []struct {
		name       string
		entrypoint []string
		expose     []string
	}{
		{"idp", []string{"/idp", "serve", "--config", "/etc/idp/idp.yaml"}, []string{"8080"}},
		{"ldapsync", []string{"/ldapsync", "run", "--config", "/etc/ldapsync/ldapsync.yaml"}, []string{"9090"}},
	} {
		t.Run(img.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join("docker", img.name+".Dockerfile")
			stages := parseDockerfile(t, file)
			if len(stages) < 2 {
				t.Fatalf("%s: %d stages, want a build stage and a final one", file, len(stages))
			}
			build, final := stages[0], stages[len(stages)-1]
			if final.from != "scratch" {
				t.Errorf("final stage FROM %s, want scratch", final.from)
			}
			if !strings.HasPrefix(build.from, "docker.io/library/golang:") || build.name == "" {
				t.Errorf("build stage FROM %s AS %q, want the official golang image, named", build.from, build.name)
			}
			out := "" // where the build stage writes the binary
			for _, in := range build.body {
				if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
					for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/" + img.name} {
						if !strings.Contains(in.args, want) {
							t.Errorf("line %d: go build without %s", in.line, want)
						}
					}
					if m := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(in.args); m != nil {
						out = m[1]
					}
				}
			}
			if out == "" {
				t.Fatal("no `go build -o FILE` in the build stage")
			}
			copied := map[string]string{} // destination → source in the build stage
			var entrypoint, expose []string
			user := ""
			for _, in := range final.body {
				switch in.cmd {
				case "RUN", "SHELL", "ADD", "ONBUILD", "VOLUME":
					t.Errorf("line %d: %s in the final stage (no shell, nothing fetched, nothing written)", in.line, in.cmd)
				case "COPY":
					f := strings.Fields(in.args)
					if len(f) != 3 || f[0] != "--from="+build.name {
						t.Errorf("line %d: COPY %s, want COPY --from=%s SRC DST", in.line, in.args, build.name)
						continue
					}
					copied[f[2]] = f[1]
				case "USER":
					user = in.args
				case "ENTRYPOINT":
					if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
						t.Errorf("line %d: ENTRYPOINT not in exec form (a JSON list): %v", in.line, err)
					}
				case "EXPOSE":
					expose = append(expose, strings.Fields(in.args)...)
				case "CMD":
					t.Errorf("line %d: CMD; everything is in ENTRYPOINT", in.line)
				}
			}
			if !slices.Equal(entrypoint, img.entrypoint) {
				t.Errorf("ENTRYPOINT %q, want %q", entrypoint, img.entrypoint)
			}
			if len(entrypoint) > 0 && copied[entrypoint[0]] != out {
				t.Errorf("ENTRYPOINT runs %s, copied from %q; the build stage writes %s", entrypoint[0], copied[entrypoint[0]], out)
			}
			for _, f := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/passwd", "/etc/group"} {
				if _, ok := copied[f]; !ok {
					t.Errorf("the final stage has no %s", f)
				}
			}
			uid, gid, _ := strings.Cut(user, ":")
			if n, err := strconv.Atoi(uid); err != nil || n == 0 {
				t.Errorf("USER %q, want a numeric non-root uid (Kubernetes' runAsNonRoot cannot check a name)", user)
			} else if g, err := strconv.Atoi(gid); err != nil || g == 0 {
				t.Errorf("USER %q, want a numeric non-root group too", user)
			}
			if !slices.Equal(expose, img.expose) {
				t.Errorf("EXPOSE %q, want %q", expose, img.expose)
			}
		})
	}
}

// readYAMLDocs decodes every document of a YAML file into maps.
func readYAMLDocs(t *testing.T, file string) []map[string]any {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if err.Error() == "EOF" {
				return docs
			}
			t.Fatalf("%s: %v", file, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

// get walks a decoded document: keys of maps, indexes of lists.
func get(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, keys ...any) string { s, _ := get(v, keys...).(string); return s }
func list(v any, keys ...any) []any { l, _ := get(v, keys...).([]any); return l }

// testCA is a PEM certificate, for the configurations' ca_file.
func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// testSecret is what a secret called name holds in these tests: a value
// of the right shape for what its name says it is.
func testSecret(t *testing.T, name string) string {
	t.Helper()
	key := func() string { b := make([]byte, 32); _, _ = rand.Read(b); return hex.EncodeToString(b) }
	switch {
	case strings.Contains(name, "hpke"):
		k, err := job.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		data, err := job.MarshalPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	case strings.HasSuffix(name, "public-key"), strings.HasSuffix(name, ".pub"):
		k, err := job.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		return job.MarshalPublicKey(k.PublicKey()) + "\n"
	case strings.HasSuffix(name, ".pem"):
		return testCA(t)
	case strings.Contains(name, "key"):
		return key() + "\n"
	}
	return "a-password\n"
}

func notFound(name string) error {
	return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}
