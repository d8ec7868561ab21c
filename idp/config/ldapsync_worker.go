package config

import (
	"crypto/ed25519"
	"crypto/hpke"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/ldapconn"
)

// Ldapsync is the configuration of the password writer, `ldapsync run
// --config FILE` (deploy/config/ldapsync.yaml shows every key). It is read
// by the same strict decoder as the provider's, with the same secret
// references and the same messages.
type Ldapsync struct {
	Log   Log
	Redis Redis // KeyPrefix is unused: the prefix is Queue.KeyPrefix
	Queue Queue
	// PrivateKeys are read from private_key_files (made by `ldapsync
	// keygen`): the keys jobs may be sealed to, two during a rotation.
	PrivateKeys []hpke.PrivateKey
	// WebPublicKeys are web_public_keys (printed by `ldapsync webkey`):
	// only jobs signed with one of them are written.
	WebPublicKeys []ed25519.PublicKey
	// Directories are written to in this order; at least one.
	Directories []Directory
	Worker      Worker
	Tracing     Tracing
	Metrics     Metrics // also serves the health probes; off unless metrics.listen is given
}

// Queue must match the provider's settings of the same meaning.
type Queue struct {
	KeyPrefix string        // the provider's redis.key_prefix; default "idp:"
	StatusTTL time.Duration // how long a finished change stays visible; zero: the queue's default
}

// Values of Directory.FindBy.
const (
	FindByUID  = "uid"
	FindByMail = "mail"
)

// Directory is one directory every new password is written to.
type Directory struct {
	Name   string // short id (a-z, 0-9, _ and -), unique
	Label  string // what the person reads, in French
	FindBy string // FindByUID (default) or FindByMail
	// LDAPConnection binds as the writer account, required.
	LDAPConnection
	BaseDN           string
	UserFilter       string // contains {login}; default DefaultUserFilter
	SubjectAttribute string // empty: no check of the person's sub there
	PolicyDN         string // the ppolicy entry published for the provider; optional
}

// Worker tunes the worker loop; a zero duration or RetryLimit means the
// worker's default.
type Worker struct {
	Name                          string
	Lease                         time.Duration
	RetryBackoff, MaxRetryBackoff time.Duration
	RetryLimit                    int // -1: no retry
	PollInterval                  time.Duration
	PolicyInterval                time.Duration
}

// LoadLdapsync reads and checks ldapsync's configuration file at path,
// taking secrets from the environment and the file system.
func LoadLdapsync(path string) (*Ldapsync, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseLdapsync(path, data, os.LookupEnv, os.ReadFile)
}

// ParseLdapsync is Parse for ldapsync's configuration: every problem at
// once, as an Errors, and a nil configuration then.
func ParseLdapsync(name string, data []byte, env func(string) (string, bool), readFile func(string) ([]byte, error)) (*Ldapsync, error) {
	d := newDecoder(name, env, readFile)
	root := d.document(data)
	if root == nil {
		return nil, d.problems.sorted()
	}
	c := d.decodeLdapsync(root)
	d.ldapsyncDefaults(c)
	d.validateLdapsync(c)
	if len(d.problems) > 0 {
		return nil, d.problems.sorted()
	}
	return c, nil
}

func (d *decoder) decodeLdapsync(root *yaml.Node) *Ldapsync {
	c := &Ldapsync{}
	m := d.mapping(root, "")
	d.decodeLog(m.sub("log"), &c.Log, false)
	d.decodeRedis(m.sub("redis"), &c.Redis, false)
	q := m.sub("queue")
	q.str("key_prefix", &c.Queue.KeyPrefix)
	q.duration("status_ttl", &c.Queue.StatusTTL)
	q.done()
	var files []string
	m.strs("private_key_files", &files)
	for i, file := range files {
		if k := d.privateKey(indexPath("private_key_files", i), file); k != nil {
			c.PrivateKeys = append(c.PrivateKeys, k)
		}
	}
	var webKeys []string
	m.strs("web_public_keys", &webKeys)
	for i, s := range webKeys {
		p := indexPath("web_public_keys", i)
		if d.reported(p) {
			continue
		}
		if pk, err := job.ParseVerifyKey(s); err != nil {
			d.problem(d.locate(p), p, "is not a public key printed by `ldapsync webkey` (ed25519:…)")
		} else {
			c.WebPublicKeys = append(c.WebPublicKeys, pk)
		}
	}
	m.refuse("directory", "replaced by directories, a list of directories each with a name and a label (see deploy/config/ldapsync.yaml)")
	for i, item := range m.seq("directories") {
		c.Directories = append(c.Directories, d.decodeDirectory(d.mapping(item, indexPath("directories", i))))
	}
	w := m.sub("worker")
	w.str("name", &c.Worker.Name)
	w.duration("lease", &c.Worker.Lease)
	w.duration("retry_backoff", &c.Worker.RetryBackoff)
	w.duration("max_retry_backoff", &c.Worker.MaxRetryBackoff)
	w.integer("retry_limit", &c.Worker.RetryLimit)
	w.duration("poll_interval", &c.Worker.PollInterval)
	w.duration("policy_interval", &c.Worker.PolicyInterval)
	w.done()
	d.decodeTracing(m.sub("tracing"), &c.Tracing)
	d.decodeMetrics(m.sub("metrics"), &c.Metrics)
	m.done()
	return c
}

// privateKey reads a key file made by `ldapsync keygen`.
func (d *decoder) privateKey(path, file string) hpke.PrivateKey {
	if d.reported(path) {
		return nil
	}
	data, err := d.readFile(file)
	if err != nil {
		d.problem(d.locate(path), path, "cannot read %q: %s", file, readError(err))
		return nil
	}
	k, err := job.ParsePrivateKey(data)
	if err != nil {
		d.problem(d.locate(path), path, "%q is not a private key file made by `ldapsync keygen`", file)
		return nil
	}
	return k
}

func (d *decoder) decodeDirectory(m *mapping) Directory {
	var c Directory
	m.str("name", &c.Name)
	m.str("label", &c.Label)
	m.oneOf("find_by", &c.FindBy, FindByUID, FindByMail)
	d.decodeLDAPConnection(m, &c.LDAPConnection)
	m.str("base_dn", &c.BaseDN)
	m.str("user_filter", &c.UserFilter)
	m.str("subject_attribute", &c.SubjectAttribute)
	m.str("policy_dn", &c.PolicyDN)
	m.done()
	return c
}

func (d *decoder) ldapsyncDefaults(c *Ldapsync) {
	def := func(path string, set func()) {
		if !d.given(path) {
			set()
		}
	}
	def("log.level", func() { c.Log.Level = logLevels["info"] })
	def("log.format", func() { c.Log.Format = LogJSON })
	d.tracingDefaults(&c.Tracing, "ldapsync")
	def("queue.key_prefix", func() { c.Queue.KeyPrefix = "idp:" })
	for i := range c.Directories {
		dir := &c.Directories[i]
		p := indexPath("directories", i)
		def(p+".find_by", func() { dir.FindBy = FindByUID })
		def(p+".user_filter", func() { dir.UserFilter = DefaultUserFilter })
		d.ldapConnectionDefaults(p, &dir.LDAPConnection)
	}
}

func (d *decoder) validateLdapsync(c *Ldapsync) {
	v := &validator{d: d}
	v.redis(c.Redis)
	v.tracing(c.Tracing)
	v.metrics(c.Metrics, "")
	if len(c.PrivateKeys) == 0 && !v.anyReported("private_key_files") {
		v.report("private_key_files", "at least one key file is required: the one made by `ldapsync keygen` (two during a rotation)")
	}
	if len(c.WebPublicKeys) == 0 && !v.anyReported("web_public_keys") {
		v.report("web_public_keys", "at least one key is required: the web tier's public key printed by `ldapsync webkey` (two during a rotation); only jobs it signed are written")
	}
	if len(c.Directories) == 0 && !d.given("directory") {
		v.report("directories", "at least one directory to write to is required")
	}
	seen := map[string]string{} // name → path of the first directory with it
	longest, longestPath := ldapconn.DefaultTimeout, ""
	for i, dir := range c.Directories {
		p := indexPath("directories", i)
		v.directory(p, dir, seen)
		if dir.Timeout > longest {
			longest, longestPath = dir.Timeout, p+".timeout"
		}
	}
	q := c.Queue
	if q.KeyPrefix == "" {
		v.report("queue.key_prefix", "must not be empty: give the provider's redis.key_prefix")
	}
	w := c.Worker
	for _, dur := range []struct {
		path string
		d    time.Duration
	}{
		{"queue.status_ttl", q.StatusTTL}, {"worker.lease", w.Lease}, {"worker.retry_backoff", w.RetryBackoff},
		{"worker.max_retry_backoff", w.MaxRetryBackoff}, {"worker.poll_interval", w.PollInterval},
		{"worker.policy_interval", w.PolicyInterval},
	} {
		if dur.d < 0 {
			v.report(dur.path, "must not be negative, not %s", dur.d)
		}
	}
	if w.Lease > 0 && w.Lease < 3*longest {
		what := "the directories' timeout (5s by default)"
		if longestPath != "" {
			what = longestPath + " (" + longest.String() + ")"
		}
		v.report("worker.lease", "must be at least three times %s, or a slow write outlives it", what)
	}
	if w.RetryLimit < -1 {
		v.report("worker.retry_limit", "must be -1 (no retry), 0 (the default, 5) or more, not %d", w.RetryLimit)
	}
}

// anyReported reports whether path or one of its items has a problem.
func (v *validator) anyReported(path string) bool {
	for p := range v.d.bad {
		if p == path || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}

func (v *validator) directory(p string, dir Directory, seen map[string]string) {
	name := p + ".name"
	switch first, dup := seen[dir.Name]; {
	case !v.d.given(name):
		v.report(name, "this setting is required: a short id such as annuaire (a-z, 0-9, _ and -)")
	case !job.ValidTargetName(dir.Name):
		v.report(name, "%q: use 1 to 32 characters among a-z, 0-9, _ and -", dir.Name)
	case dup:
		v.report(name, "%q is the name of %s already; names must be unique", dir.Name, first)
	default:
		seen[dir.Name] = p
	}
	if strings.TrimSpace(dir.Label) == "" {
		v.report(p+".label", "this setting is required: what the person reads, e.g. « l’annuaire des usagers »")
	}
	v.ldapConnection(p, dir.LDAPConnection, "the writer account (non-root, write access to userPassword)")
	if v.required(p+".base_dn", dir.BaseDN == "") {
		v.dn(p+".base_dn", dir.BaseDN)
	}
	v.userFilter(p+".user_filter", dir.UserFilter)
	if dir.SubjectAttribute != "" && !attributeName.MatchString(dir.SubjectAttribute) {
		v.report(p+".subject_attribute", "%q is not an LDAP attribute name such as \"entryUUID\"", dir.SubjectAttribute)
	}
	if dir.PolicyDN != "" {
		v.dn(p+".policy_dn", dir.PolicyDN)
	}
}
