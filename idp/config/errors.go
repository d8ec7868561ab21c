package config

import (
	"fmt"
	"slices"
	"strings"
)

// Problem is one mistake found in a configuration file, located by line and
// column (both 1-based; 0 when unknown) and by its path in the document, such
// as "clients[1].redirect_uris[0]". Messages never contain a secret's value.
type Problem struct {
	File    string // the name given to Parse (the path given to Load)
	Line    int
	Column  int
	Path    string // empty for problems with the document as a whole
	Message string
}

// String formats the problem as "FILE:LINE:COL: path: message", leaving out
// the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Errors is every problem found in one configuration file. Parse and Load
// return it (sorted by line, then column) as their error, so callers can use
// errors.As to list the problems one by one.
type Errors []Problem

// Error lists one problem per line, sorted by line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e.sorted() {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (e Errors) sorted() Errors {
	s := slices.Clone(e)
	slices.SortStableFunc(s, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return s
}

// suggest returns the known name closest to an unknown one, or "" when none is
// close enough to be a plausible typo.
func suggest(unknown string, known []string) string {
	best, bestDist := "", 0
	for _, k := range known {
		d := editDistance(strings.ToLower(unknown), k)
		if best == "" || d < bestDist {
			best, bestDist = k, d
		}
	}
	// Allow roughly one typo per four characters, so "isuer" finds "issuer"
	// but "port" does not find "log".
	if best == "" || bestDist > max(1, len(best)/4) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
