package config

import (
	"bytes"
	"fmt"
	"strings"
)

// previousKeys reads name (e.g. previous_crypto_key_files): a list of files
// each holding a key the current one replaced, still accepted to open,
// verify or decrypt what it made, never to make anything new. Each key is
// checked like the current one (size bytes, exactly or at least), and must
// differ from current and from the others.
func (m *mapping) previousKeys(name string, size int, exact bool, current []byte) [][]byte {
	path := childPath(m.path, name)
	var files []string
	m.strs(name, &files)
	var keys [][]byte
	for i, file := range files {
		p := indexPath(path, i)
		if m.d.reported(p) {
			continue
		}
		if file == "" {
			m.d.problem(m.d.locate(p), p, "is empty; give the path of a file holding a previous key")
			continue
		}
		data, err := m.d.readFile(file)
		if err != nil {
			m.d.problem(m.d.locate(p), p, "cannot read secret file %q: %s", file, readError(err))
			continue
		}
		value := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		key := m.d.checkKey(p, fmt.Sprintf("file %q", file), value, size, exact)
		if key == nil {
			continue
		}
		if bytes.Equal(key, current) {
			m.d.problem(m.d.locate(p), p, "the key in %q is the current one; list only the keys it replaced", file)
			continue
		}
		for _, k := range keys {
			if bytes.Equal(k, key) {
				m.d.problem(m.d.locate(p), p, "the key in %q is listed twice", file)
				key = nil
				break
			}
		}
		if key != nil {
			keys = append(keys, key)
		}
	}
	return keys
}
