package helm_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

var (
	autoscalerDeployment = key{"Deployment", namespace, "gantry-autoscaler"}
	autoscalerRole       = key{"ClusterRole", "", "gantry-autoscaler"}
	autoscalerStatusRole = key{"Role", namespace, "gantry-autoscaler-status"}
	kwokRole             = key{"ClusterRole", "", "gantry-autoscaler-kwok"}
	kwokBinding          = key{"ClusterRoleBinding", "", "gantry-autoscaler-kwok"}
)

// TestShippedAutoscalerIsSafe checks what the chart's defaults and the
// kustomize base install: a real provider, no pod deletion, no node
// create/delete, ConfigMap access by name only, and a hardened pod whose
// probes follow the loop.
func TestShippedAutoscalerIsSafe(t *testing.T) {
	c := loadChart(t)
	for source, objs := range map[string]objects{
		"chart":     mustRender(t, c, nil),
		"kustomize": kustomize(t, "autoscaler", "rbac.yaml", "deployment.yaml", "status-configmap.yaml"),
	} {
		t.Run(source, func(t *testing.T) {
			d := objs[autoscalerDeployment].(*appsv1.Deployment)
			spec := d.Spec.Template.Spec
			ctr := spec.Containers[0]
			if !slices.Contains(ctr.Args, "--provider=clusterapi") {
				t.Errorf("args %q do not name --provider=clusterapi", ctr.Args)
			}
			for _, a := range ctr.Args {
				if strings.HasPrefix(a, "--delete-pods") || a == "--provider=kwok" {
					t.Errorf("shipped argument %q", a)
				}
			}
			if _, ok := objs[kwokRole]; ok {
				t.Errorf("%s shipped by default", kwokRole)
			}
			for _, r := range objs[autoscalerRole].(*rbacv1.ClusterRole).Rules {
				if slices.Contains(r.Resources, "nodes") && (slices.Contains(r.Verbs, "create") || slices.Contains(r.Verbs, "delete")) {
					t.Errorf("the base role may create or delete nodes: %+v", r)
				}
				if slices.Contains(r.Resources, "pods") && slices.Contains(r.Verbs, "delete") {
					t.Errorf("the base role may delete pods (evictions only): %+v", r)
				}
			}
			want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
				ResourceNames: []string{"gantry-autoscaler-status"}, Verbs: []string{"get", "update"}}}
			if diff := cmp.Diff(want, objs[autoscalerStatusRole].(*rbacv1.Role).Rules); diff != "" {
				t.Errorf("status Role rules (-want +got):\n%s", diff)
			}
			if _, ok := objs[key{"ConfigMap", namespace, "gantry-autoscaler-status"}]; !ok {
				t.Error("the status ConfigMap is not shipped (the autoscaler may not create it)")
			}
			psc := spec.SecurityContext
			if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
				psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
				t.Errorf("pod securityContext %+v: want seccomp RuntimeDefault and runAsNonRoot", psc)
			}
			sc := ctr.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil ||
				!*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("container securityContext %+v", sc)
			}
			if ctr.Resources.Limits.Memory().IsZero() {
				t.Error("no memory limit")
			}
			if p := ctr.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
				t.Errorf("liveness probe %+v, want GET /healthz", p)
			}
			if p := ctr.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
				t.Errorf("readiness probe %+v, want GET /readyz", p)
			}
		})
	}
}

// TestKWOKDemoMatchesOverlay renders the chart with values-kwok-demo.yaml
// and compares it with the kustomize overlay manifests/overlays/kwok-demo:
// the same extra role, binding and arguments.
func TestKWOKDemoMatchesOverlay(t *testing.T) {
	c := loadChart(t)
	data, err := os.ReadFile(filepath.Join(chartDir, "values-kwok-demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]any
	if err := sigsyaml.Unmarshal(data, &vals); err != nil {
		t.Fatal(err)
	}
	got := mustRender(t, c, vals)
	overlay := kustomize(t, "overlays/kwok-demo", "rbac-kwok.yaml", "deployment-kwok.yaml")
	if diff := cmp.Diff(overlay[kwokRole].(*rbacv1.ClusterRole).Rules, got[kwokRole].(*rbacv1.ClusterRole).Rules); diff != "" {
		t.Errorf("%s rules (-overlay +chart):\n%s", kwokRole, diff)
	}
	ob, gb := overlay[kwokBinding].(*rbacv1.ClusterRoleBinding), got[kwokBinding].(*rbacv1.ClusterRoleBinding)
	if diff := cmp.Diff([]any{ob.RoleRef, ob.Subjects}, []any{gb.RoleRef, gb.Subjects}); diff != "" {
		t.Errorf("%s (-overlay +chart):\n%s", kwokBinding, diff)
	}
	oargs := overlay[autoscalerDeployment].(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Args
	gargs := got[autoscalerDeployment].(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Args
	if diff := cmp.Diff(oargs, gargs); diff != "" {
		t.Errorf("autoscaler args (-overlay +chart):\n%s", diff)
	}
	if !slices.Contains(gargs, "--provider=kwok") {
		t.Errorf("args %q: want --provider=kwok", gargs)
	}
}

// TestAutoscalerValuesSchema: a provider the binary does not know and the
// removed deletePods are refused at helm install time.
func TestAutoscalerValuesSchema(t *testing.T) {
	c := loadChart(t)
	for name, vals := range map[string]map[string]any{
		"unknown provider": {"autoscaler": map[string]any{"provider": "aws"}},
		"deletePods":       {"autoscaler": map[string]any{"deletePods": true}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, c, vals)
			if err == nil || !strings.Contains(err.Error(), "/autoscaler") {
				t.Errorf("rendered or wrong error: %v", err)
			}
		})
	}
	out, err := render(t, c, map[string]any{"autoscaler": map[string]any{"provider": "kwok"}})
	if err != nil {
		t.Fatal(err)
	}
	if notes := out["gantry/templates/NOTES.txt"]; !strings.Contains(notes, "WARNING: the kwok provider") {
		t.Errorf("NOTES do not warn about the kwok provider:\n%s", notes)
	}
}
