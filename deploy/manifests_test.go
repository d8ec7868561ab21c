package deploy_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// TestCompose checks deploy/compose.yaml: Redis persists and never evicts,
// every service has a healthcheck except the two FROM scratch ones, those
// run read-only, non-root and without capabilities, every secret a
// service uses is declared as a file under ./secrets/, and the
// configurations it mounts parse with exactly the secrets and volumes
// their service has.
func TestCompose(t *testing.T) {
	t.Parallel()
	docs := readYAMLDocs(t, "compose.yaml")
	if len(docs) != 1 {
		t.Fatalf("compose.yaml: %d documents", len(docs))
	}
	c := docs[0]
	services, _ := get(c, "services").(map[string]any)
	for _, name := range []string{"idp", "ldapsync", "redis", "openldap", "mailpit"} {
		if services[name] == nil {
			t.Errorf("no service %s", name)
		}
	}
	var redisCmd []string
	for _, a := range list(c, "services", "redis", "command") {
		redisCmd = append(redisCmd, a.(string))
	}
	cmd := strings.Join(redisCmd, " ")
	for _, want := range []string{"--appendonly yes", "--maxmemory-policy noeviction"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redis command %q lacks %s", cmd, want)
		}
	}
	for name, s := range services {
		own := strings.HasPrefix(str(s, "image"), "localhost/idp:") || strings.HasPrefix(str(s, "image"), "localhost/ldapsync:")
		switch {
		case own:
			if get(s, "read_only") != true || str(s, "user") != "65532:65532" || str(s, "cap_drop", 0) != "ALL" {
				t.Errorf("%s: read_only %v, user %q, cap_drop %v; want true, 65532:65532, [ALL]", name, get(s, "read_only"), str(s, "user"), get(s, "cap_drop"))
			}
			if df := str(s, "build", "dockerfile"); df != "deploy/docker/"+name+".Dockerfile" || str(s, "build", "context") != ".." {
				t.Errorf("%s: built from %q in %q", name, df, str(s, "build", "context"))
			}
		case name == "trial-tls":
			// A one-shot job.
		default:
			if len(list(s, "healthcheck", "test")) == 0 {
				t.Errorf("%s: no healthcheck", name)
			}
		}
		for _, sec := range list(s, "secrets") {
			n, _ := sec.(string)
			if f := str(c, "secrets", n, "file"); !strings.HasPrefix(f, "./secrets/") {
				t.Errorf("%s: secret %q is not declared as a file under ./secrets/ (%q)", name, n, f)
			}
		}
	}

	// The configurations, with the files their service gets.
	for _, svc := range []struct{ name, config string }{{"idp", "idp-config"}, {"ldapsync", "ldapsync-config"}} {
		s := services[svc.name]
		file := str(c, "configs", svc.config, "file")
		data, err := os.ReadFile(filepath.FromSlash(path.Clean(file)))
		if err != nil {
			t.Fatalf("%s: %v", svc.name, err)
		}
		files := map[string]string{}
		for _, sec := range list(s, "secrets") {
			n := sec.(string)
			files["/run/secrets/"+n] = testSecret(t, n)
		}
		var caDirs []string
		for _, v := range list(s, "volumes") {
			src, dst, _ := strings.Cut(v.(string), ":")
			if src == "trial-tls" {
				dst, _, _ = strings.Cut(dst, ":")
				caDirs = append(caDirs, dst)
			}
		}
		ca := testCA(t)
		for _, d := range caDirs {
			files[d+"/ca.pem"] = ca // made by deploy/docker/openldap/make-tls.sh
		}
		readFile := func(name string) ([]byte, error) {
			if v, ok := files[name]; ok {
				return []byte(v), nil
			}
			return nil, notFound(name)
		}
		target := str(s, "configs", 0, "target")
		switch svc.name {
		case "idp":
			if target != "/etc/idp/idp.yaml" {
				t.Errorf("idp configuration mounted at %q", target)
			}
			if _, err := config.Parse(file, data, nil, readFile); err != nil {
				t.Errorf("%s with the compose secrets:\n%v", file, err)
			}
		case "ldapsync":
			if target != "/etc/ldapsync/ldapsync.yaml" {
				t.Errorf("ldapsync configuration mounted at %q", target)
			}
			if _, err := config.ParseLdapsync(file, data, nil, readFile); err != nil {
				t.Errorf("%s with the compose secrets:\n%v", file, err)
			}
		}
	}
}

// k8sObjects reads every manifest of deploy/k8s, by kind and name.
func k8sObjects(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifest in deploy/k8s: %v", err)
	}
	objs := map[string]map[string]any{}
	for _, f := range files {
		for _, d := range readYAMLDocs(t, f) {
			key := str(d, "kind") + "/" + str(d, "metadata", "name")
			if str(d, "apiVersion") == "" || str(d, "kind") == "" || str(d, "metadata", "name") == "" {
				t.Errorf("%s: a document without apiVersion, kind or name", f)
			}
			if objs[key] != nil {
				t.Errorf("%s twice", key)
			}
			objs[key] = d
		}
	}
	return objs
}

// TestKubernetes checks deploy/k8s: each Deployment runs non-root on a
// read-only root file system without capabilities under the runtime's
// seccomp profile, the web tier is probed on /healthz and /ready (served,
// see TestProbeRoutes), the Service, PodDisruptionBudget and
// NetworkPolicy select its pods, and the configuration in the ConfigMap
// parses with exactly the files the pod mounts.
func TestKubernetes(t *testing.T) {
	t.Parallel()
	objs := k8sObjects(t)
	for _, name := range []string{"idp", "ldapsync"} {
		t.Run(name, func(t *testing.T) {
			d := objs["Deployment/"+name]
			if d == nil {
				t.Fatalf("no Deployment %s", name)
			}
			labels := get(d, "spec", "selector", "matchLabels")
			if str(d, "spec", "template", "metadata", "labels", "app.kubernetes.io/name") != name {
				t.Errorf("pod labels %v", get(d, "spec", "template", "metadata", "labels"))
			}
			for _, kind := range []string{"PodDisruptionBudget", "NetworkPolicy"} {
				o := objs[kind+"/"+name]
				sel := get(o, "spec", "selector", "matchLabels")
				if kind == "NetworkPolicy" {
					sel = get(o, "spec", "podSelector", "matchLabels")
				}
				if o == nil || str(sel, "app.kubernetes.io/name") != name {
					t.Errorf("%s/%s does not select the pods (%v; Deployment selects %v)", kind, name, sel, labels)
				}
			}
			pod := get(d, "spec", "template", "spec")
			if get(pod, "securityContext", "runAsNonRoot") != true || str(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
				t.Errorf("pod securityContext %v", get(pod, "securityContext"))
			}
			if get(pod, "automountServiceAccountToken") != false {
				t.Error("the pod mounts a service account token it never uses")
			}
			containers := list(pod, "containers")
			if len(containers) != 1 {
				t.Fatalf("%d containers", len(containers))
			}
			ctr := containers[0]
			sc := get(ctr, "securityContext")
			if get(sc, "runAsNonRoot") != true || get(sc, "readOnlyRootFilesystem") != true || get(sc, "allowPrivilegeEscalation") != false ||
				str(sc, "capabilities", "drop", 0) != "ALL" || len(list(sc, "capabilities", "add")) != 0 ||
				str(sc, "seccompProfile", "type") != "RuntimeDefault" {
				t.Errorf("container securityContext %v", sc)
			}
			if get(ctr, "command") != nil || get(ctr, "args") != nil {
				t.Error("command or args given: the image's ENTRYPOINT says what to run")
			}
			if !strings.HasSuffix(strings.Split(str(ctr, "image"), ":")[0], "/"+name) {
				t.Errorf("image %q", str(ctr, "image"))
			}
			if name == "ldapsync" {
				// Its probes are on the metrics listener (ldapsync/app.Observe).
				if str(ctr, "livenessProbe", "httpGet", "path") != "/healthz" || str(ctr, "readinessProbe", "httpGet", "path") != "/ready" ||
					str(ctr, "livenessProbe", "httpGet", "port") != "metrics" || get(ctr, "ports", 0, "containerPort") != 9090 {
					t.Errorf("ldapsync probes %v %v on ports %v", get(ctr, "livenessProbe"), get(ctr, "readinessProbe"), get(ctr, "ports"))
				}
			}
			if name == "idp" {
				if p := str(ctr, "livenessProbe", "httpGet", "path"); p != "/healthz" {
					t.Errorf("liveness probe on %q, want /healthz", p)
				}
				if p := str(ctr, "readinessProbe", "httpGet", "path"); p != "/ready" {
					t.Errorf("readiness probe on %q, want /ready", p)
				}
				port := get(ctr, "ports", 0, "containerPort")
				if port != 8080 || str(ctr, "livenessProbe", "httpGet", "port") != str(ctr, "ports", 0, "name") {
					t.Errorf("container port %v, probes on %q", port, str(ctr, "livenessProbe", "httpGet", "port"))
				}
				// make loadflow measures the provider at this GOMAXPROCS (1).
				if e := get(ctr, "env", 0); str(e, "name") != "GOMAXPROCS" || str(e, "valueFrom", "resourceFieldRef", "resource") != "requests.cpu" ||
					str(e, "valueFrom", "resourceFieldRef", "divisor") != "1" || str(ctr, "resources", "requests", "cpu") != "100m" {
					t.Errorf("GOMAXPROCS is not the CPU request (100m) rounded up, which make loadflow's PROCS=1 stands for: env %v, resources %v", get(ctr, "env"), get(ctr, "resources"))
				}
				if str(objs["Service/idp"], "spec", "ports", 0, "targetPort") != str(ctr, "ports", 0, "name") ||
					str(objs["Service/idp"], "spec", "selector", "app.kubernetes.io/name") != "idp" {
					t.Errorf("Service/idp does not reach the pods: %v", get(objs["Service/idp"], "spec"))
				}
			}

			// The files of the pod: each mount's volume, its items.
			files := map[string]string{}
			volumes := map[string]any{}
			for _, v := range list(pod, "volumes") {
				volumes[str(v, "name")] = v
			}
			var cmData map[string]any
			for _, m := range list(ctr, "volumeMounts") {
				if get(m, "readOnly") != true {
					t.Errorf("mount %s is writable", str(m, "mountPath"))
				}
				v := volumes[str(m, "name")]
				switch {
				case get(v, "configMap") != nil:
					cm := objs["ConfigMap/"+str(v, "configMap", "name")]
					if cm == nil {
						t.Fatalf("volume %s: no ConfigMap %s", str(m, "name"), str(v, "configMap", "name"))
					}
					cmData, _ = get(cm, "data").(map[string]any)
					for _, it := range list(v, "configMap", "items") {
						data, ok := cmData[str(it, "key")].(string)
						if !ok {
							t.Errorf("ConfigMap %s has no key %s", str(v, "configMap", "name"), str(it, "key"))
						}
						if strings.HasSuffix(str(it, "key"), ".pem") {
							data = testCA(t) // the example holds a placeholder
						}
						files[str(m, "mountPath")+"/"+str(it, "path")] = data
					}
				case get(v, "secret") != nil:
					if len(list(v, "secret", "items")) == 0 {
						t.Errorf("secret volume %s lists no items: list them, so that a missing key stops the pod", str(m, "name"))
					}
					for _, it := range list(v, "secret", "items") {
						files[str(m, "mountPath")+"/"+str(it, "path")] = testSecret(t, str(it, "key"))
					}
				default:
					t.Errorf("mount %s: volume %s is neither a ConfigMap nor a Secret", str(m, "mountPath"), str(m, "name"))
				}
			}
			readFile := func(name string) ([]byte, error) {
				if v, ok := files[name]; ok {
					return []byte(v), nil
				}
				return nil, notFound(name)
			}
			file := map[string]string{"idp": "/etc/idp/idp.yaml", "ldapsync": "/etc/ldapsync/ldapsync.yaml"}[name]
			data, ok := files[file]
			if !ok {
				t.Fatalf("%s is not mounted", file)
			}
			var err error
			if name == "idp" {
				_, err = config.Parse(file, []byte(data), nil, readFile)
			} else {
				_, err = config.ParseLdapsync(file, []byte(data), nil, readFile)
			}
			if err != nil {
				t.Errorf("the ConfigMap's %s, with the pod's files:\n%v", path.Base(file), err)
			}
		})
	}
}

// TestProbeRoutes: the paths the manifests probe are served, by the
// provider (/healthz, the library's) and by the server (/ready, the same
// handler in both modes).
func TestProbeRoutes(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	p, err := provider.New(provider.Config{
		Issuer: "https://idp.example.org", LoginPath: "/login", SigningAlgorithm: "ES256",
		Clients:   []provider.Client{{ID: "rp", SecretSHA256: make([]byte, 32), RedirectURIs: []string{"https://rp.example.org/cb"}}},
		Lifetimes: provider.Lifetimes{AuthRequest: time.Minute, Code: time.Minute, AccessToken: time.Minute, IDToken: time.Minute, RefreshToken: time.Hour},
		Now:       time.Now,
	}, store.New(store.Options{Client: rdb, Now: time.Now}))
	if err != nil {
		t.Fatal(err)
	}
	probe := func(h http.Handler, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	if code := probe(p.Handler(), "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz answers %d", code)
	}
	ready := func(ctx context.Context) error { return p.Ready(ctx) }
	s := server.NewResetOnly(server.ResetOnlyConfig{
		Issuer: "https://idp.example.org", LostPassword: http.NotFoundHandler(), Landing: http.NotFoundHandler(),
		Pages: &web.Pages{Log: slog.New(slog.DiscardHandler)}, CrossOrigin: func(h http.Handler) http.Handler { return h },
		Ready: ready, Log: slog.New(slog.DiscardHandler),
	})
	if code := probe(s, "/ready"); code != http.StatusOK {
		t.Errorf("/ready answers %d with Redis up", code)
	}
	mr.Close()
	if code := probe(s, "/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("/ready answers %d with Redis down, want 503", code)
	}
}
