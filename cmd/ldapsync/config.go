package main

import (
	"bytes"
	"cmp"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/job"
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
	PrivateKeyFiles []string `yaml:"private_key_files"`
	Directory       struct {
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
		Timeout          time.Duration `yaml:"timeout"`
	} `yaml:"directory"`
	Worker struct {
		Name            string        `yaml:"name"`
		Lease           time.Duration `yaml:"lease"`
		RetryBackoff    time.Duration `yaml:"retry_backoff"`
		MaxRetryBackoff time.Duration `yaml:"max_retry_backoff"`
		RetryLimit      int           `yaml:"retry_limit"`
		PollInterval    time.Duration `yaml:"poll_interval"`
	} `yaml:"worker"`
}

// config is a checked fileConfig with its secrets and keys resolved.
type config struct {
	file      fileConfig
	logLevel  slog.Level
	redisPass string
	keys      []hpke.PrivateKey
	directory directory.Config
}

// loader reads a configuration file; env and readFile are injected so
// tests need neither real files nor environment variables.
type loader struct {
	name     string
	env      func(string) (string, bool)
	readFile func(string) ([]byte, error)
	lines    map[string]int // key path → line, for messages
	problems []problem
}

// problem is one message and its line (0: not in the file).
type problem struct {
	line int
	text string
}

func (l *loader) problem(path, format string, args ...any) {
	where, n := l.name, l.lines[path]
	if n > 0 {
		where += ":" + strconv.Itoa(n)
	}
	if path != "" {
		where += ": " + path
	}
	l.problems = append(l.problems, problem{n, where + ": " + fmt.Sprintf(format, args...)})
}

// parse decodes data strictly (unknown keys, wrong types and duplicate
// keys are errors), then checks every value, and reports every problem at
// once, one per line. Messages never quote a secret.
func (l *loader) parse(data []byte) (*config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	l.lines = map[string]int{}
	recordLines(&root, "", l.lines)

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
	if f.Directory.BindDN == "" {
		l.problem("directory.bind_dn", "required: the writer account (non-root, write access to userPassword)")
	}
	if len(f.Directory.URLs) == 0 {
		l.problem("directory.urls", "give at least one ldap:// or ldaps:// URL")
	}
	if f.Directory.BaseDN == "" {
		l.problem("directory.base_dn", "required")
	}
	d := f.Directory
	c.directory = directory.Config{
		URLs: d.URLs, StartTLS: d.StartTLS, CAFile: d.CAFile, BindDN: d.BindDN, BaseDN: d.BaseDN,
		UserFilter: d.UserFilter, SubjectAttribute: d.SubjectAttribute, Timeout: d.Timeout,
		BindPassword: l.secret("directory.bind_password", d.BindPassword, d.BindPasswordFile, d.BindPasswordEnv, true),
	}
	if len(d.URLs) > 0 && d.BindDN != "" && d.BaseDN != "" && c.directory.BindPassword != "" {
		// The rest (URL schemes, DN syntax, filter, CA file) as the writer checks it.
		if _, err := directory.New(c.directory, nil); err != nil {
			l.problem("directory", "%v", strings.TrimPrefix(err.Error(), "directory: invalid config: "))
		}
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
	for path, d := range map[string]time.Duration{
		"queue.status_ttl": f.Queue.StatusTTL, "directory.timeout": f.Directory.Timeout,
		"worker.lease": f.Worker.Lease, "worker.retry_backoff": f.Worker.RetryBackoff,
		"worker.max_retry_backoff": f.Worker.MaxRetryBackoff, "worker.poll_interval": f.Worker.PollInterval,
	} {
		if d < 0 {
			l.problem(path, "must not be negative")
		}
	}
	if f.Worker.Lease > 0 && f.Worker.Lease < 3*orDuration(f.Directory.Timeout, 5*time.Second) {
		l.problem("worker.lease", "must be at least three times directory.timeout, or a slow write outlives it")
	}
	if f.Worker.RetryLimit < -1 {
		l.problem("worker.retry_limit", "must be -1 (no retry), 0 (default 5) or more")
	}
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
		return problem{0, l.name + ": " + msg}
	}
	text = plainTypeError(text)
	path := "" // the deepest key on that line
	for p, line := range l.lines {
		if line == n && !strings.HasSuffix(p, "]") && len(p) > len(path) {
			path = p
		}
	}
	if path == "" {
		return problem{n, fmt.Sprintf("%s:%d: %s", l.name, n, text)}
	}
	return problem{n, fmt.Sprintf("%s:%d: %s: %s", l.name, n, path, text)}
}

// plainTypeError rewords yaml's messages without naming Go types or
// quoting the value (which could be a secret typed in the wrong place).
func plainTypeError(text string) string {
	if strings.HasPrefix(text, "field ") && strings.Contains(text, " not found in type ") {
		return "unknown key"
	}
	_, into, ok := strings.Cut(text, "` into ")
	if !strings.HasPrefix(text, "cannot unmarshal ") || !ok {
		return text
	}
	want := map[string]string{
		"time.Duration": "a duration such as 90s, 15m or 1h30m",
		"int":           "a whole number",
		"bool":          "true or false",
		"string":        "a string",
		"[]string":      "a list of strings",
	}[into]
	if want == "" {
		return "wrong type here"
	}
	return "must be " + want
}

// recordLines maps every key path of a YAML document to its line.
func recordLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			recordLines(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			lines[p] = n.Content[i].Line
			recordLines(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = c.Line
			recordLines(c, p, lines)
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
