package main

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"go.yaml.in/yaml/v3"

	idpconfig "github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// fileConfig is the configuration file of `ldapsync run` (see
// deploy/config/ldapsync.yaml for every key, its default and meaning).
type fileConfig struct {
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	Redis struct {
		Addrs        []string  `yaml:"addrs"`
		MasterName   string    `yaml:"master_name"`
		Username     string    `yaml:"username"`
		Password     yaml.Node `yaml:"password"` // refused: secrets by reference only
		PasswordFile string    `yaml:"password_file"`
		PasswordEnv  string    `yaml:"password_env"`
		DB           int       `yaml:"db"`
		TLS          bool      `yaml:"tls"`
		CAFile       string    `yaml:"ca_file"`
	} `yaml:"redis"`
	Queue struct {
		KeyPrefix string        `yaml:"key_prefix"`
		StatusTTL time.Duration `yaml:"status_ttl"`
	} `yaml:"queue"`
	PrivateKeyFiles []string        `yaml:"private_key_files"`
	WebPublicKeys   []string        `yaml:"web_public_keys"`
	Directories     []directoryFile `yaml:"directories"`
	Directory       yaml.Node       `yaml:"directory"` // refused: replaced by directories
	Worker          struct {
		Name            string        `yaml:"name"`
		Lease           time.Duration `yaml:"lease"`
		RetryBackoff    time.Duration `yaml:"retry_backoff"`
		MaxRetryBackoff time.Duration `yaml:"max_retry_backoff"`
		RetryLimit      int           `yaml:"retry_limit"`
		PollInterval    time.Duration `yaml:"poll_interval"`
		PolicyInterval  time.Duration `yaml:"policy_interval"`
	} `yaml:"worker"`
}

// directoryFile is one item of directories: a target every change is
// written to, in the order of the list.
type directoryFile struct {
	Name             string        `yaml:"name"`
	Label            string        `yaml:"label"`
	FindBy           string        `yaml:"find_by"`
	URLs             []string      `yaml:"urls"`
	StartTLS         bool          `yaml:"start_tls"`
	CAFile           string        `yaml:"ca_file"`
	BindDN           string        `yaml:"bind_dn"`
	BindPassword     yaml.Node     `yaml:"bind_password"` // refused, as above
	BindPasswordFile string        `yaml:"bind_password_file"`
	BindPasswordEnv  string        `yaml:"bind_password_env"`
	BaseDN           string        `yaml:"base_dn"`
	UserFilter       string        `yaml:"user_filter"`
	SubjectAttribute string        `yaml:"subject_attribute"`
	PolicyDN         string        `yaml:"policy_dn"`
	Timeout          time.Duration `yaml:"timeout"`
}

// target is a checked directories item: the worker's Target without its
// Writer, and the writer's configuration.
type target struct {
	name, label, findBy, policyDN string
	checkSubject                  bool
	directory                     directory.Config
}

// config is a checked fileConfig with its secrets and keys resolved.
type config struct {
	file      fileConfig
	logLevel  slog.Level
	redisPass string
	keys      []hpke.PrivateKey
	webKeys   []ed25519.PublicKey
	targets   []target
}

// loader reads a configuration file; env and readFile are injected so
// tests need neither real files nor environment variables.
type loader struct {
	name     string
	env      func(string) (string, bool)
	readFile func(string) ([]byte, error)
	lines    map[string]int // key path → line, for messages
	values   map[string]int // key path → line of its value, when a mapping or a list
	problems []problem
}

// problem is one message, its line (0: not in the file) and key path.
type problem struct {
	line int
	path string
	text string
}

func (l *loader) problem(path, format string, args ...any) {
	where, n := l.name, l.line(path)
	if n > 0 {
		where += ":" + strconv.Itoa(n)
	}
	if path != "" {
		where += ": " + path
	}
	l.problems = append(l.problems, problem{n, path, where + ": " + fmt.Sprintf(format, args...)})
}

// line is the line of path, or of its nearest ancestor in the file (a
// key missing from a list item is reported at the item).
func (l *loader) line(path string) int {
	for p := path; p != ""; {
		if n := l.lines[p]; n > 0 {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// parse decodes data strictly (unknown keys, wrong types and duplicate
// keys are errors), then checks every value, and reports every problem at
// once, one per line. Messages never quote a secret.
func (l *loader) parse(data []byte) (*config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	l.lines, l.values = map[string]int{}, map[string]int{}
	recordLines(&root, "", l.lines, l.values)

	var c config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c.file); err != nil && !errors.Is(err, io.EOF) { // EOF: empty, checked below
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		for _, e := range te.Errors {
			l.problems = append(l.problems, l.located(strings.TrimPrefix(e, "yaml: ")))
		}
	}
	l.check(&c)
	if len(l.problems) > 0 {
		// By line; problems of what is missing from the file come last.
		slices.SortStableFunc(l.problems, func(a, b problem) int {
			return cmp.Compare(uint(a.line-1), uint(b.line-1))
		})
		texts := make([]string, len(l.problems))
		for i, p := range l.problems {
			texts[i] = p.text
		}
		return nil, errors.New(strings.Join(texts, "\n"))
	}
	return &c, nil
}

func (l *loader) check(c *config) {
	f := &c.file
	if err := c.logLevel.UnmarshalText([]byte(orDefault(f.Log.Level, "info"))); err != nil {
		l.problem("log.level", "must be debug, info, warn or error")
	}
	if format := orDefault(f.Log.Format, "json"); format != "json" && format != "text" {
		l.problem("log.format", "must be json or text")
	}
	if len(f.Redis.Addrs) == 0 {
		l.problem("redis.addrs", "give at least one host:port")
	}
	c.redisPass = l.secret("redis.password", f.Redis.Password, f.Redis.PasswordFile, f.Redis.PasswordEnv, false)
	if f.Directory.Kind != 0 {
		l.problem("directory", "replaced by directories, a list of directories each with a name and a label (see deploy/config/ldapsync.yaml)")
	} else if len(f.Directories) == 0 && !l.reported("directories") {
		l.problem("directories", "give at least one directory to write to")
	}
	seen := map[string]int{}
	for i := range f.Directories {
		l.checkDirectory(c, i, seen)
	}
	if len(f.PrivateKeyFiles) == 0 {
		l.problem("private_key_files", "give the file made by `ldapsync keygen` (two during a rotation)")
	}
	for i, path := range f.PrivateKeyFiles {
		key := fmt.Sprintf("private_key_files[%d]", i)
		data, err := l.readFile(path)
		if err != nil {
			l.problem(key, "cannot read %q: %s", path, readError(err))
			continue
		}
		k, err := job.ParsePrivateKey(data)
		if err != nil {
			l.problem(key, "%q: %v", path, err)
			continue
		}
		c.keys = append(c.keys, k)
	}
	if len(f.WebPublicKeys) == 0 {
		l.problem("web_public_keys", "give the web tier's public key printed by `ldapsync webkey` (two during a rotation): only jobs it signed are written")
	}
	for i, s := range f.WebPublicKeys {
		pk, err := job.ParseVerifyKey(s)
		if err != nil {
			l.problem(fmt.Sprintf("web_public_keys[%d]", i), "is not a public key printed by `ldapsync webkey` (ed25519:…)")
			continue
		}
		c.webKeys = append(c.webKeys, pk)
	}
	durations := map[string]time.Duration{
		"queue.status_ttl": f.Queue.StatusTTL,
		"worker.lease":     f.Worker.Lease, "worker.retry_backoff": f.Worker.RetryBackoff,
		"worker.max_retry_backoff": f.Worker.MaxRetryBackoff, "worker.poll_interval": f.Worker.PollInterval,
		"worker.policy_interval": f.Worker.PolicyInterval,
	}
	longest, longestPath := 5*time.Second, ""
	for i, d := range f.Directories {
		path := fmt.Sprintf("directories[%d].timeout", i)
		durations[path] = d.Timeout
		if d.Timeout > longest {
			longest, longestPath = d.Timeout, path
		}
	}
	for path, d := range durations {
		if d < 0 {
			l.problem(path, "must not be negative")
		}
	}
	if f.Worker.Lease > 0 && f.Worker.Lease < 3*longest {
		what := "the directories' timeout (5s by default)"
		if longestPath != "" {
			what = longestPath
		}
		l.problem("worker.lease", "must be at least three times %s, or a slow write outlives it", what)
	}
	if f.Worker.RetryLimit < -1 {
		l.problem("worker.retry_limit", "must be -1 (no retry), 0 (default 5) or more")
	}
}

// checkDirectory checks directories[i] and adds its target to c. seen
// maps the names met so far to their index.
func (l *loader) checkDirectory(c *config, i int, seen map[string]int) {
	d := c.file.Directories[i]
	at := func(key string) string { return fmt.Sprintf("directories[%d].%s", i, key) }
	switch prev, dup := seen[d.Name]; {
	case d.Name == "":
		l.problem(at("name"), "required: a short id such as annuaire (a-z, 0-9, _ and -)")
	case !job.ValidTargetName(d.Name):
		l.problem(at("name"), "%q: use 1 to 32 characters among a-z, 0-9, _ and -", d.Name)
	case dup:
		l.problem(at("name"), "%q is the name of directories[%d] already; names must be unique", d.Name, prev)
	default:
		seen[d.Name] = i
	}
	if strings.TrimSpace(d.Label) == "" {
		l.problem(at("label"), "required: what the person reads, e.g. « l’annuaire des usagers »")
	}
	findBy := orDefault(d.FindBy, ldapsync.FindByUID)
	if findBy != ldapsync.FindByUID && findBy != ldapsync.FindByMail {
		l.problem(at("find_by"), "must be uid or mail")
	}
	if d.BindDN == "" {
		l.problem(at("bind_dn"), "required: the writer account (non-root, write access to userPassword)")
	}
	if len(d.URLs) == 0 {
		l.problem(at("urls"), "give at least one ldap:// or ldaps:// URL")
	}
	for j, raw := range d.URLs {
		if u, err := url.Parse(raw); err == nil && strings.EqualFold(u.Scheme, "ldap") && !d.StartTLS && !idpconfig.IsLoopback(u.Hostname()) {
			l.problem(fmt.Sprintf("%s[%d]", at("urls"), j), "%q without start_tls sends passwords unencrypted: plain ldap:// is only allowed to a directory on this machine (127.0.0.1, ::1 or localhost); use ldaps:// or start_tls: true", raw)
		}
	}
	if d.BaseDN == "" {
		l.problem(at("base_dn"), "required")
	}
	if d.PolicyDN != "" {
		if _, err := ldap.ParseDN(d.PolicyDN); err != nil {
			l.problem(at("policy_dn"), "%q is not a DN", d.PolicyDN)
		}
	}
	t := target{
		name: d.Name, label: d.Label, findBy: findBy, policyDN: d.PolicyDN,
		checkSubject: d.SubjectAttribute != "",
		directory: directory.Config{
			URLs: d.URLs, StartTLS: d.StartTLS, CAFile: d.CAFile, BindDN: d.BindDN, BaseDN: d.BaseDN,
			UserFilter: d.UserFilter, SubjectAttribute: d.SubjectAttribute, Timeout: d.Timeout,
			BindPassword: l.secret(at("bind_password"), d.BindPassword, d.BindPasswordFile, d.BindPasswordEnv, true),
		},
	}
	if len(d.URLs) > 0 && d.BindDN != "" && d.BaseDN != "" && t.directory.BindPassword != "" {
		// The rest (URL schemes, DN syntax, filter, CA file) as the writer checks it.
		if _, err := directory.New(t.directory, nil); err != nil {
			l.problem(fmt.Sprintf("directories[%d]", i), "%v", strings.TrimPrefix(err.Error(), "directory: invalid config: "))
		}
	}
	c.targets = append(c.targets, t)
}

// secret resolves a secret given as <name>_file or <name>_env, never in
// the file itself.
func (l *loader) secret(path string, literal yaml.Node, file, env string, required bool) string {
	name := path[strings.LastIndexByte(path, '.')+1:]
	switch {
	case literal.Kind != 0:
		l.problem(path, "a secret must not be written in the configuration file; give %[1]s_file or %[1]s_env", name)
	case file != "" && env != "":
		l.problem(path, "give either %[1]s_file or %[1]s_env, not both", name)
	case file != "":
		data, err := l.readFile(file)
		if err != nil {
			l.problem(path+"_file", "cannot read secret file %q: %s", file, readError(err))
			return ""
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		if v == "" {
			l.problem(path+"_file", "secret file %q is empty", file)
		}
		return v
	case env != "":
		v, ok := l.env(env)
		if !ok || v == "" {
			l.problem(path+"_env", "environment variable %s is not set or empty", env)
		}
		return v
	case required:
		l.problem(path, "required: give %[1]s_file or %[1]s_env", name)
	}
	return ""
}

// located turns yaml's "line N: message" into "FILE:N: key.path: message".
func (l *loader) located(msg string) problem {
	rest, ok := strings.CutPrefix(msg, "line ")
	num, text, ok2 := strings.Cut(rest, ": ")
	n, err := strconv.Atoi(num)
	if !ok || !ok2 || err != nil {
		return problem{0, "", l.name + ": " + msg}
	}
	path := "" // the deepest key on that line
	if strings.HasPrefix(text, "cannot unmarshal !!map") || strings.HasPrefix(text, "cannot unmarshal !!seq") {
		// A mapping or list in the wrong place: the line is its value's.
		for p, line := range l.values {
			if line == n && len(p) > len(path) {
				path = p
			}
		}
	}
	if path == "" {
		for p, line := range l.lines {
			if line == n && !strings.HasSuffix(p, "]") && len(p) > len(path) {
				path = p
			}
		}
	}
	text = plainTypeError(text)
	if path == "" {
		return problem{n, "", fmt.Sprintf("%s:%d: %s", l.name, n, text)}
	}
	return problem{n, path, fmt.Sprintf("%s:%d: %s: %s", l.name, n, path, text)}
}

// reported reports whether a problem was found at path already.
func (l *loader) reported(path string) bool {
	for _, p := range l.problems {
		if p.path == path {
			return true
		}
	}
	return false
}

// plainTypeError rewords yaml's messages without naming Go types or
// quoting the value (which could be a secret typed in the wrong place).
func plainTypeError(text string) string {
	if strings.HasPrefix(text, "field ") && strings.Contains(text, " not found in type ") {
		return "unknown key"
	}
	_, into, ok := strings.Cut(text, "` into ")
	if !ok { // a mapping or a list: no value quoted
		_, into, ok = strings.Cut(text, " into ")
	}
	if !strings.HasPrefix(text, "cannot unmarshal ") || !ok {
		return text
	}
	want := map[string]string{
		"time.Duration":        "a duration such as 90s, 15m or 1h30m",
		"int":                  "a whole number",
		"bool":                 "true or false",
		"string":               "a string",
		"[]string":             "a list of strings",
		"[]main.directoryFile": "a list of directories, each item starting with \"- name:\"",
	}[into]
	if want == "" {
		return "wrong type here"
	}
	return "must be " + want
}

// recordLines maps every key path of a YAML document to its line, and
// to the line of its value when that is a mapping or a list.
func recordLines(n *yaml.Node, path string, lines, values map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			recordLines(c, path, lines, values)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			lines[p] = n.Content[i].Line
			if v := n.Content[i+1]; v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode {
				values[p] = v.Line
			}
			recordLines(n.Content[i+1], p, lines, values)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = c.Line
			recordLines(c, p, lines, values)
		}
	}
}

func readError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return err.Error()
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func orDuration(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}
