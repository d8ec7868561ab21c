package deploy_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestImagesBuild builds the final stage of each Dockerfile with podman,
// from binaries built here (the golang base image of the build stage
// needs a registry, which tests must not), and checks the image: its
// user, entrypoint and ports, and that it holds the binary, the CA
// certificates and the passwd entry and nothing else (no shell). It takes
// minutes on two cores, so `make images` runs it (IDP_TEST_IMAGES=1) and
// `make test` leaves it to TestDockerfiles, which checks the same
// instructions without podman.
func TestImagesBuild(t *testing.T) {
	if testing.Short() || os.Getenv("IDP_TEST_IMAGES") != "1" {
		t.Skip("builds images with podman: run `make images`")
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed (apt-get install podman); TestDockerfiles checks the Dockerfiles without it")
	}
	if out, err := exec.Command(podman, "info", "--format", "{{.Host.OCIRuntime.Name}}").CombinedOutput(); err != nil {
		t.Skipf("podman does not work here: %v: %s", err, bytes.TrimSpace(out))
	}
	certs := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(certs); err != nil {
		t.Skipf("no %s to put in the image (apt-get install ca-certificates)", certs)
	}
	for _, name := range []string{"idp", "ldapsync"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			stages := parseDockerfile(t, filepath.Join("docker", name+".Dockerfile"))
			build, final := stages[0], stages[len(stages)-1]

			// The build stage's output, made here the same way.
			var files = map[string]string{} // path in the build stage → file here
			for _, in := range build.body {
				if in.cmd != "RUN" {
					continue
				}
				if m := regexp.MustCompile(`-o (\S+) (\./cmd/\S+)`).FindStringSubmatch(in.args); m != nil {
					bin := filepath.Join(dir, filepath.Base(m[1]))
					cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, m[2])
					cmd.Dir = ".."
					cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("go build %s: %v\n%s", m[2], err, out)
					}
					files[m[1]] = bin
				}
				for _, m := range regexp.MustCompile(`echo '([^']*)' > (\S+)`).FindAllStringSubmatch(in.args, -1) {
					f := filepath.Join(dir, filepath.Base(m[2]))
					if err := os.WriteFile(f, []byte(m[1]+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					files[m[2]] = f
				}
			}
			files[certs] = certs

			// The final stage, its COPY --from=build taken from here.
			var cf strings.Builder
			cf.WriteString("FROM scratch\n")
			want := []string{}
			for i, in := range final.body {
				if in.cmd == "COPY" {
					f := strings.Fields(in.args)
					src, ok := files[f[1]]
					if !ok {
						t.Fatalf("the build stage does not make %s", f[1])
					}
					local := "f" + string(rune('a'+i))
					data, err := os.ReadFile(src)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dir, local), data, 0o755); err != nil {
						t.Fatal(err)
					}
					cf.WriteString("COPY " + local + " " + f[2] + "\n")
					want = append(want, strings.TrimPrefix(f[2], "/"))
					continue
				}
				cf.WriteString(in.cmd + " " + in.args + "\n")
			}
			if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(cf.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			tag := "localhost/idp-deploy-test/" + name + ":" + filepath.Base(dir)
			run := func(args ...string) []byte {
				t.Helper()
				out, err := exec.Command(podman, args...).Output()
				if err != nil {
					var stderr []byte
					if ee, ok := err.(*exec.ExitError); ok {
						stderr = ee.Stderr
					}
					t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, stderr)
				}
				return out
			}
			run("build", "--quiet", "--network=none", "-t", tag, dir)
			t.Cleanup(func() { _ = exec.Command(podman, "rmi", "--force", tag).Run() })

			var cfg struct {
				User         string
				Entrypoint   []string
				Cmd          []string
				ExposedPorts map[string]struct{}
			}
			if err := json.Unmarshal(run("image", "inspect", "--format", "{{json .Config}}", tag), &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.User != "65532:65532" || len(cfg.Entrypoint) == 0 || cfg.Entrypoint[0] != "/"+name || len(cfg.Cmd) != 0 {
				t.Errorf("image config: user %q, entrypoint %q, cmd %q", cfg.User, cfg.Entrypoint, cfg.Cmd)
			}
			if _, ok := cfg.ExposedPorts["8080/tcp"]; ok != (name == "idp") {
				t.Errorf("exposed ports %v", cfg.ExposedPorts)
			}

			// What the image holds: exactly the copied files.
			id := strings.TrimSpace(string(run("create", tag)))
			t.Cleanup(func() { _ = exec.Command(podman, "rm", "--force", id).Run() })
			tr := tar.NewReader(bytes.NewReader(run("export", id)))
			var got []string
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
					got = append(got, strings.TrimPrefix(h.Name, "./"))
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("the image holds %q, want exactly %q", got, want)
			}
		})
	}
}
