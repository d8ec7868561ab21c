package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeDir holds the npm package.json and package-lock.json that pin
// axe-core (version and integrity hash); `make axe` installs it there.
const axeDir = "idp/testenv/testdata/axe"

// axeInstall is the command that installs axe-core, for skip messages.
const axeInstall = "make axe (npm ci --prefix " + axeDir + ")"

// AxeTags are the axe-core rule sets every page must pass: WCAG 2.2 A and AA, and axe's best practices.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"}

// Axe is the axe-core script, ready to be run in a page.
type Axe struct {
	source string
}

// AxeViolation is one failed axe rule with the elements that fail it.
type AxeViolation struct {
	ID      string    `json:"id"`
	Impact  string    `json:"impact"`
	Help    string    `json:"help"`
	HelpURL string    `json:"helpUrl"`
	Tags    []string  `json:"tags"`
	Nodes   []AxeNode `json:"nodes"`
}

// AxeNode is one element that fails a rule.
type AxeNode struct {
	Target  []string `json:"target"`
	HTML    string   `json:"html"`
	Summary string   `json:"summary"`
}

func (v AxeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s: %s (%s)", v.Impact, v.ID, v.Help, v.HelpURL)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n    %s  %s\n      %s", strings.Join(n.Target, " "), n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n      "))
	}
	return b.String()
}

// LoadAxe reads axe.min.js, from $AXE_CORE_JS when set, else from where
// `make axe` installs it. When it is missing the test is skipped with the
// command to run, or fails when CI=true, like a missing binary.
func LoadAxe(t testing.TB) *Axe {
	t.Helper()
	path, err := axePath()
	if err == nil {
		var src []byte
		if src, err = os.ReadFile(path); err == nil {
			return &Axe{source: string(src)}
		}
	}
	msg := fmt.Sprintf("axe-core not found (%v): run %s", err, axeInstall)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
		return nil
	}
	t.Skip(msg)
	return nil
}

func axePath() (string, error) {
	if p := os.Getenv("AXE_CORE_JS"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	// Tests run in their package's directory: the module root is the
	// nearest parent with a go.mod.
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(axeDir), "node_modules", "axe-core", "axe.min.js"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// axeRun runs the rules of AxeTags, plus label-content-name-mismatch,
// which axe keeps experimental but a visible label needs, and returns the
// violations in a form JSON can carry.
const axeRun = `axe.run(document, {
	runOnly: {type: 'tag', values: %s},
	rules: {'label-content-name-mismatch': {enabled: true}},
	resultTypes: ['violations'],
}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl, tags: v.tags,
	nodes: v.nodes.map(n => ({target: n.target.map(String), html: n.html, summary: n.failureSummary || ''})),
})))`

// Run runs axe-core on the page shown in ctx and returns its violations.
func (a *Axe) Run(ctx context.Context) ([]AxeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err != nil {
		return nil, fmt.Errorf("axe: %w", err)
	}
	if !loaded {
		// Through the DevTools protocol: the page's CSP does not apply.
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](a.source)); err != nil {
			return nil, fmt.Errorf("axe: inject axe.min.js: %w", err)
		}
	}
	tags, _ := json.Marshal(AxeTags)
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]AxeViolation](fmt.Sprintf(axeRun, tags), chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe: run: %w", err)
	}
	return v, nil
}

// Check runs axe-core on the page shown in ctx and reports each violation
// as an error of t, naming page.
func (a *Axe) Check(t testing.TB, ctx context.Context, page string) {
	t.Helper()
	vs, err := a.Run(ctx)
	if err != nil {
		t.Errorf("%s: %v", page, err)
		return
	}
	for _, v := range vs {
		t.Errorf("%s: axe violation %s", page, v)
	}
}
