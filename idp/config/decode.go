package config

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks the yaml.Node tree by hand rather than through yaml.Unmarshal
// into structs, because Unmarshal stops at the first type error, accepts
// duplicate keys and loses positions. It records where every value came from,
// so that later validation can point at the right line too.
type decoder struct {
	file     string
	env      func(string) (string, bool)
	readFile func(string) ([]byte, error)
	problems Errors
	pos      map[string]*yaml.Node // path → node of a value that was given
	keyPos   map[string]*yaml.Node // path → its key, even when the value is empty
	bad      map[string]bool       // paths already reported, so validation does not pile on
}

func newDecoder(name string, env func(string) (string, bool), readFile func(string) ([]byte, error)) *decoder {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	if readFile == nil {
		readFile = func(name string) ([]byte, error) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
	}
	return &decoder{
		file:     name,
		env:      env,
		readFile: readFile,
		pos:      make(map[string]*yaml.Node),
		keyPos:   make(map[string]*yaml.Node),
		bad:      make(map[string]bool),
	}
}

// problem records a mistake in the value at path, found at node n (nil:
// position unknown), and marks path so validation says nothing more about it.
func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) {
	d.add(n, path, format, args...)
	d.bad[path] = true
}

// add records a mistake without marking path: an unknown or duplicate key in
// a section does not make the rest of the section unreadable.
func (d *decoder) add(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: d.file, Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

// given reports whether the document set a (non-null) value at path.
func (d *decoder) given(path string) bool {
	_, ok := d.pos[path]
	return ok
}

// reported reports whether path or one of its ancestors already has a problem.
func (d *decoder) reported(path string) bool {
	for {
		if d.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// locate returns the node for path, or the key of its nearest ancestor that
// is in the file. Something missing from the top level has no line (nil):
// line 1 would wrongly point at whatever key happens to be there.
func (d *decoder) locate(path string) *yaml.Node {
	for path != "" {
		if n, ok := d.pos[path]; ok {
			return n
		}
		if n, ok := d.keyPos[path]; ok {
			return n
		}
		path = parentPath(path)
	}
	return nil
}

// parentPath strips the last ".name" or "[i]" from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func childPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// resolve follows aliases so that anchors (&a / *a) work anywhere.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node holds, for "must be X, not Y" messages. It never
// quotes the value, which may be a secret written where it should not be.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value pairs)"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!null":
		return "empty"
	case "!!bool":
		return "true/false"
	case "!!int", "!!float":
		return "a number"
	case "!!timestamp":
		return "a date"
	case "!!str":
		return "text"
	}
	return "a value of type " + n.ShortTag()
}

// mapping reads the keys of one YAML mapping. Every accessor marks its key as
// known; done reports the keys nobody asked for.
type mapping struct {
	d     *decoder
	path  string
	keys  map[string]*yaml.Node // key name → key node (first occurrence)
	vals  map[string]*yaml.Node // key name → value node, aliases resolved
	order []string
	used  map[string]bool
	known []string // names asked for, for "did you mean" suggestions
}

// mapping returns the mapping at n (which may be nil when the key is absent).
// A value of the wrong kind is reported and read as an empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string) *mapping {
	m := &mapping{d: d, path: path, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}, used: map[string]bool{}}
	n = resolve(n)
	if isNull(n) {
		return m
	}
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "must be a mapping of keys (key: value on separate lines), not %s", describe(n))
		return m
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		if k.ShortTag() == "!!merge" {
			d.add(k, path, "merge keys (<<) are not supported; write the keys out")
			continue
		}
		if first, dup := m.keys[name]; dup {
			d.add(k, path, "duplicate key %q (first given on line %d)", name, first.Line)
			continue
		}
		m.keys[name], m.vals[name] = k, resolve(v)
		d.keyPos[childPath(path, name)] = k
		m.order = append(m.order, name)
	}
	return m
}

// get returns the value of key name, or nil when it is absent or null.
func (m *mapping) get(name string) *yaml.Node {
	m.used[name] = true
	m.known = append(m.known, name)
	v := m.vals[name]
	if isNull(v) {
		return nil
	}
	path := childPath(m.path, name)
	if v.Kind == yaml.ScalarNode {
		m.d.pos[path] = v
	} else {
		// Sections and lists are easier to find by their key.
		m.d.pos[path] = m.keys[name]
	}
	return v
}

// refuse reports key name, if present, with message; it is for keys that must
// not be there, such as literal secrets. The key is not offered as a suggestion.
func (m *mapping) refuse(name, message string) {
	if k, ok := m.keys[name]; ok {
		m.used[name] = true
		m.d.problem(k, childPath(m.path, name), "%s", message)
	}
}

// done reports every key that no accessor asked for.
func (m *mapping) done() {
	for _, name := range m.order {
		if m.used[name] {
			continue
		}
		msg := fmt.Sprintf("unknown key %q", name)
		if s := suggest(name, m.known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		m.d.add(m.keys[name], m.path, "%s", msg)
	}
}

func (m *mapping) sub(name string) *mapping {
	return m.d.mapping(m.get(name), childPath(m.path, name))
}

func (m *mapping) str(name string, dst *string) {
	if v := m.get(name); v != nil {
		m.d.scalarString(v, childPath(m.path, name), dst)
	}
}

func (d *decoder) scalarString(v *yaml.Node, path string, dst *string) bool {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		hint := ""
		if v.Kind == yaml.ScalarNode && !isNull(v) {
			hint = " (put it in quotes if it is meant as text)"
		}
		d.problem(v, path, "must be text, not %s%s", describe(v), hint)
		return false
	}
	*dst = v.Value
	return true
}

func (m *mapping) boolean(name string, dst *bool) {
	v := m.get(name)
	if v == nil {
		return
	}
	b, err := strconv.ParseBool(v.Value)
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || err != nil {
		m.d.problem(v, childPath(m.path, name), "must be true or false, not %s", describe(v))
		return
	}
	*dst = b
}

func (m *mapping) integer(name string, dst *int) {
	v := m.get(name)
	if v == nil {
		return
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
		m.d.problem(v, childPath(m.path, name), "must be a whole number, not %s", describe(v))
		return
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(v.Value, "_", ""), 0, strconv.IntSize)
	if err != nil {
		m.d.problem(v, childPath(m.path, name), "%s is not a usable whole number", v.Value)
		return
	}
	*dst = int(i)
}

func (m *mapping) duration(name string, dst *time.Duration) {
	v := m.get(name)
	if v == nil {
		return
	}
	path := childPath(m.path, name)
	if v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!int" || v.ShortTag() == "!!float") {
		m.d.problem(v, path, "must be a duration with a unit, like \"90s\", \"15m\" or \"1h30m\" (a bare number has no unit)")
		return
	}
	var s string
	if !m.d.scalarString(v, path, &s) {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		m.d.problem(v, path, "%q is not a duration; write it like \"90s\", \"15m\" or \"1h30m\"", s)
		return
	}
	*dst = dur
}

// seq returns the items of a list, each located at path[i].
func (m *mapping) seq(name string) []*yaml.Node {
	v := m.get(name)
	if v == nil {
		return nil
	}
	path := childPath(m.path, name)
	if v.Kind != yaml.SequenceNode {
		m.d.problem(v, path, "must be a list (one \"- item\" per line, or [a, b]), not %s", describe(v))
		return nil
	}
	items := make([]*yaml.Node, len(v.Content))
	for i, it := range v.Content {
		items[i] = resolve(it)
		m.d.pos[indexPath(path, i)] = it
	}
	return items
}

// strs reads a list of text values. A wrong item is reported and kept as ""
// so that indexes still match the file.
func (m *mapping) strs(name string, dst *[]string) {
	path := childPath(m.path, name)
	var out []string
	for i, it := range m.seq(name) {
		var s string
		m.d.scalarString(it, indexPath(path, i), &s)
		out = append(out, s)
	}
	if m.d.given(path) {
		*dst = out
	}
}
