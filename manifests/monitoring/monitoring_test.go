package monitoring

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	sigsyaml "sigs.k8s.io/yaml"
)

var metricToken = regexp.MustCompile(`\bgantry_[a-z0-9_]+`)

// referenced returns the documented metric each gantry_ token of expr
// names (a histogram's _bucket, _count and _sum series name the
// histogram), failing for one that is not documented.
func referenced(t *testing.T, where, expr string, documented map[string]metric) []string {
	t.Helper()
	var out []string
	for _, tok := range metricToken.FindAllString(expr, -1) {
		name := tok
		if _, ok := documented[name]; !ok {
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if base, cut := strings.CutSuffix(tok, suffix); cut && documented[base].Type == "histogram" {
					name = base
				}
			}
		}
		require.Contains(t, documented, name, "%s: %q refers to %s, which no component defines (docs/metrics.md)", where, expr, tok)
		out = append(out, name)
	}
	require.NotEmpty(t, out, "%s: %q refers to no Gantry metric", where, expr)
	return out
}

func documented(t *testing.T) map[string]metric {
	t.Helper()
	return documentedMetrics(t, filepath.Join("..", "..", "docs", "metrics.md"))
}

// TestPrometheusRule: every alert names a documented metric and carries a
// severity and a summary; the three alerts the runbook promises exist.
func TestPrometheusRule(t *testing.T) {
	docs := documented(t)
	data, err := os.ReadFile("prometheusrule.yaml")
	require.NoError(t, err)
	var rule struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Alert       string            `json:"alert"`
					Expr        string            `json:"expr"`
					For         string            `json:"for"`
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	require.NoError(t, sigsyaml.UnmarshalStrict(data, &rule))
	require.Equal(t, "monitoring.coreos.com/v1", rule.APIVersion)
	require.Equal(t, "PrometheusRule", rule.Kind)
	alerts := map[string]bool{}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "group %s: a rule without alert", g.Name)
			referenced(t, r.Alert, r.Expr, docs)
			require.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			alerts[r.Alert] = true
		}
	}
	for _, a := range []string{"GantryAutoscalerLoopStalled", "GantryDeviceUnhealthy", "GantryPodsPendingOnDevices", "GantryUnhealthyDeviceHoldsShares"} {
		require.True(t, alerts[a], "alert %s", a)
	}
}

// TestGrafanaDashboard: every panel's queries name documented metrics.
func TestGrafanaDashboard(t *testing.T) {
	docs := documented(t)
	data, err := os.ReadFile("grafana-dashboard.json")
	require.NoError(t, err)
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	require.NoError(t, dec.Decode(&dash))
	require.NotEmpty(t, dash.UID)
	shown := map[string]bool{}
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			for _, m := range referenced(t, "panel "+p.Title, tg.Expr, docs) {
				shown[m] = true
			}
		}
	}
	for _, m := range []string{"gantry_autoscaler_loop_duration_seconds", "gantry_deviceplugin_device_healthy", "gantry_deviceplugin_device_allocated_percent", "gantry_autoscaler_unschedulable_pods", "gantry_scheduler_device_placements_total"} {
		require.True(t, shown[m], "the dashboard shows %s", m)
	}
}
