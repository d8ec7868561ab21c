package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// secret resolves the secret called name in this section, given as
// "<name>_file: /path" or "<name>_env: VARIABLE" but never as "<name>: value".
// Problems are reported under the path of name itself (e.g. redis.password),
// and never quote the value. It returns the value and a description of where
// it came from, both empty when the secret is absent or unreadable.
func (m *mapping) secret(name string) (value, source string) {
	path := childPath(m.path, name)
	m.refuse(name, fmt.Sprintf("a secret must not be written in the configuration file; "+
		"give %[1]s_file (the path of a file holding it) or %[1]s_env (the name of an environment variable holding it)", name))
	fileNode, envNode := m.get(name+"_file"), m.get(name+"_env")
	switch {
	case fileNode != nil && envNode != nil:
		m.d.problem(m.keys[name+"_env"], path, "give either %[1]s_file or %[1]s_env, not both", name)
		return "", ""
	case fileNode != nil:
		m.d.pos[path] = fileNode
		var file string
		if !m.d.scalarString(fileNode, path+"_file", &file) {
			return "", ""
		}
		if file == "" {
			m.d.problem(fileNode, path, "%s_file is empty; give the path of the file holding the secret", name)
			return "", ""
		}
		data, err := m.d.readFile(file)
		if err != nil {
			m.d.problem(fileNode, path, "cannot read secret file %q: %s", file, readError(err))
			return "", ""
		}
		// Files written by editors, echo or Kubernetes end with a newline
		// that is not part of the secret.
		value = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		if value == "" {
			m.d.problem(fileNode, path, "secret file %q is empty", file)
			return "", ""
		}
		return value, fmt.Sprintf("file %q", file)
	case envNode != nil:
		m.d.pos[path] = envNode
		var variable string
		if !m.d.scalarString(envNode, path+"_env", &variable) {
			return "", ""
		}
		if variable == "" {
			m.d.problem(envNode, path, "%s_env is empty; give the name of the environment variable holding the secret", name)
			return "", ""
		}
		value, ok := m.d.env(variable)
		if !ok {
			m.d.problem(envNode, path, "environment variable %s is not set", variable)
			return "", ""
		}
		if value == "" {
			m.d.problem(envNode, path, "environment variable %s is empty", variable)
			return "", ""
		}
		return value, "environment variable " + variable
	}
	return "", ""
}

// readError says in plain words why a file could not be read.
func readError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error() // the path is already in the message
	}
	return err.Error()
}

const keyHint = "make one with: openssl rand -hex 32"

// key resolves the secret called name and decodes it from hex or base64. The
// key must be exactly size bytes long, or at least size bytes when exact is
// false. It returns nil when the key is absent or wrong.
func (m *mapping) key(name string, size int, exact bool) []byte {
	value, source := m.secret(name)
	if value == "" {
		return nil
	}
	return m.d.checkKey(childPath(m.path, name), source, value, size, exact)
}

// checkKey decodes the key at path, read from source, and checks its size;
// nil when it is wrong (the problem is reported, never the value).
func (d *decoder) checkKey(path, source, value string, size int, exact bool) []byte {
	if value == "" {
		d.problem(d.locate(path), path, "the key from %s is empty; %s", source, keyHint)
		return nil
	}
	key, ok := decodeKey(value)
	switch {
	case !ok:
		d.problem(d.locate(path), path, "the key from %s is neither hexadecimal nor base64; %s", source, keyHint)
		return nil
	case exact && len(key) != size:
		d.problem(d.locate(path), path, "the key from %s must be exactly %d bytes (%d hexadecimal characters), but it is %d bytes long; %s",
			source, size, 2*size, len(key), keyHint)
		return nil
	case len(key) < size:
		d.problem(d.locate(path), path, "the key from %s must be at least %d bytes (%d hexadecimal characters), but it is %d bytes long; %s",
			source, size, 2*size, len(key), keyHint)
		return nil
	}
	return key
}

// decodeKey reads a key written in hexadecimal or in base64 (standard or URL
// alphabet, padded or not). Hexadecimal wins when both would do.
func decodeKey(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil {
		return b, true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
