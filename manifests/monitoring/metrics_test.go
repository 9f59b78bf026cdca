package monitoring

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// metric is one metric a Go file defines with k8s.io/component-base/metrics.
type metric struct {
	Name   string // namespace_subsystem_name
	Type   string // counter, gauge, histogram, summary
	Labels []string
	Where  string
}

var optsTypes = map[string]string{"CounterOpts": "counter", "GaugeOpts": "gauge", "HistogramOpts": "histogram", "SummaryOpts": "summary"}

// definedMetrics parses every non-test Go file of the module and returns
// the metrics built from component-base's *Opts literals, with the
// namespace, subsystem and name constants of their package resolved, and
// the label list of the New*Vec call around them.
func definedMetrics(t *testing.T, root string) map[string]metric {
	t.Helper()
	fset := token.NewFileSet()
	pkgs := map[string][]*ast.File{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "out" || d.Name() == "bin" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		require.NoError(t, err)
		pkgs[filepath.Dir(p)] = append(pkgs[filepath.Dir(p)], f)
		return nil
	})
	require.NoError(t, err)
	out := map[string]metric{}
	for dir, files := range pkgs {
		consts := map[string]string{}
		for _, f := range files {
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, s := range g.Specs {
					vs := s.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if v, ok := stringLit(vs.Values[i], nil); ok {
								consts[n.Name] = v
							}
						}
					}
				}
			}
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				u, ok := call.Args[0].(*ast.UnaryExpr)
				if !ok {
					return true
				}
				lit, ok := u.X.(*ast.CompositeLit)
				if !ok {
					return true
				}
				sel, ok := lit.Type.(*ast.SelectorExpr)
				if !ok || optsTypes[sel.Sel.Name] == "" {
					return true
				}
				parts := map[string]string{}
				for _, e := range lit.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					key := kv.Key.(*ast.Ident).Name
					if v, ok := stringLit(kv.Value, consts); ok {
						parts[key] = v
					}
				}
				require.NotEmpty(t, parts["Name"], "%s: a metric whose name is not a constant", fset.Position(lit.Pos()))
				var name []string
				for _, k := range []string{"Namespace", "Subsystem", "Name"} {
					if parts[k] != "" {
						name = append(name, parts[k])
					}
				}
				m := metric{Name: strings.Join(name, "_"), Type: optsTypes[sel.Sel.Name], Labels: []string{},
					Where: strings.TrimPrefix(dir, root+string(filepath.Separator))}
				if len(call.Args) > 1 {
					if labels, ok := call.Args[1].(*ast.CompositeLit); ok {
						for _, e := range labels.Elts {
							if v, ok := stringLit(e, consts); ok {
								m.Labels = append(m.Labels, v)
							}
						}
					}
				}
				sort.Strings(m.Labels)
				out[m.Name] = m
				return true
			})
		}
	}
	return out
}

func stringLit(e ast.Expr, consts map[string]string) (string, bool) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			s, err := strconv.Unquote(v.Value)
			return s, err == nil
		}
	case *ast.Ident:
		s, ok := consts[v.Name]
		return s, ok
	}
	return "", false
}

// documentedMetrics reads the metric rows of docs/metrics.md: | `name` | type | `l1`, `l2` | meaning |.
func documentedMetrics(t *testing.T, path string) map[string]metric {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]metric{}
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 4 || !strings.HasPrefix(strings.TrimSpace(cells[0]), "`gantry_") {
			continue
		}
		m := metric{Name: strings.Trim(strings.TrimSpace(cells[0]), "`"), Type: strings.TrimSpace(cells[1]), Labels: []string{}}
		for _, l := range strings.Split(cells[2], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" && l != "-" {
				m.Labels = append(m.Labels, l)
			}
		}
		sort.Strings(m.Labels)
		require.NotEmpty(t, strings.TrimSpace(cells[3]), "%s has no meaning", m.Name)
		require.NotContains(t, out, m.Name, "%s documented twice", m.Name)
		out[m.Name] = m
	}
	return out
}

func TestMetricsDocumented(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	defined := definedMetrics(t, root)
	require.GreaterOrEqual(t, len(defined), 15, "the scanner found the code's metrics")
	documented := documentedMetrics(t, filepath.Join(root, "docs", "metrics.md"))
	strip := func(ms map[string]metric) map[string]metric {
		out := map[string]metric{}
		for k, m := range ms {
			m.Where = ""
			out[k] = m
		}
		return out
	}
	if diff := cmp.Diff(strip(defined), documented); diff != "" {
		t.Errorf("docs/metrics.md vs the metrics the code defines (-code,+doc):\n%s", diff)
		for _, name := range sortedKeys(defined) {
			if _, ok := documented[name]; !ok {
				m := defined[name]
				t.Logf("undocumented, from %s: | `%s` | %s | %s | ... |", m.Where, m.Name, m.Type, strings.Join(m.Labels, ", "))
			}
		}
	}
}

func sortedKeys(m map[string]metric) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
