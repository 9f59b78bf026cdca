package helm_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"

	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
)

// TestDRAObjectsMatchKustomize: the chart's DeviceClasses equal
// manifests/dra's, and its claim templates, rendered into a namespace with
// the default sizes, equal manifests/dra/claimtemplates.yaml applied there.
func TestDRAObjectsMatchKustomize(t *testing.T) {
	c := loadChart(t)
	got := mustRender(t, c, map[string]any{"dra": map[string]any{"claimTemplates": map[string]any{"namespaces": []any{"team-a"}}}})
	for k, w := range kustomize(t, "dra", "deviceclasses.yaml") {
		g, ok := got[k].(*resourceapi.DeviceClass)
		if !ok {
			t.Errorf("the chart renders no %s", k)
			continue
		}
		w := w.(*resourceapi.DeviceClass)
		if diff := cmp.Diff(w.Spec, g.Spec); diff != "" {
			t.Errorf("%s spec (-kustomize +chart):\n%s", k, diff)
		}
		if g.Labels["gantry.dev/kind"] != w.Labels["gantry.dev/kind"] {
			t.Errorf("%s: gantry.dev/kind %q, want %q (GantryDRA finds its classes by it)", k, g.Labels["gantry.dev/kind"], w.Labels["gantry.dev/kind"])
		}
	}
	templates := kustomize(t, "dra", "claimtemplates.yaml")
	if len(templates) != 4 {
		t.Fatalf("manifests/dra/claimtemplates.yaml has %d templates, want 4", len(templates))
	}
	for k, w := range templates {
		k.Namespace = "team-a"
		g, ok := got[k].(*resourceapi.ResourceClaimTemplate)
		if !ok {
			t.Errorf("the chart renders no %s", k)
			continue
		}
		if diff := cmp.Diff(w.(*resourceapi.ResourceClaimTemplate).Spec, g.Spec); diff != "" {
			t.Errorf("%s spec (-kustomize +chart):\n%s", k, diff)
		}
	}
}

// TestOneAgentModePerNode: whatever nodeSelector and affinity an operator
// sets, the device-plugin DaemonSet keeps off nodes labelled
// gantry.dev/agent-mode=dra and the DRA-mode DaemonSet runs only there, so
// no node selects both.
func TestOneAgentModePerNode(t *testing.T) {
	c := loadChart(t)
	notDRA := corev1.NodeSelectorRequirement{Key: "gantry.dev/agent-mode", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"dra"}}
	zone := corev1.NodeSelectorRequirement{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}
	gpu := corev1.NodeSelectorRequirement{Key: "nvidia.com/gpu.present", Operator: corev1.NodeSelectorOpExists}
	cases := []struct {
		name         string
		devicePlugin map[string]any
		wantTerms    []corev1.NodeSelectorTerm
		wantSelector map[string]string
		wantPreferr  int
	}{
		{name: "defaults", wantTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{notDRA}}},
			wantSelector: map[string]string{"gantry.dev/agent": "true", "gantry.dev/agent-mode": "dra"}},
		{name: "the operator's terms each keep off DRA nodes", devicePlugin: map[string]any{
			"nodeSelector": map[string]any{"pool": "gpu"},
			"affinity": map[string]any{"nodeAffinity": map[string]any{
				"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{"nodeSelectorTerms": []any{
					map[string]any{"matchExpressions": []any{map[string]any{"key": "topology.kubernetes.io/zone", "operator": "In", "values": []any{"a"}}}},
					map[string]any{"matchExpressions": []any{map[string]any{"key": "nvidia.com/gpu.present", "operator": "Exists"}}},
				}},
				"preferredDuringSchedulingIgnoredDuringExecution": []any{map[string]any{"weight": 1, "preference": map[string]any{
					"matchExpressions": []any{map[string]any{"key": "nvidia.com/gpu.present", "operator": "Exists"}}}}},
			}},
		}, wantTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{zone, notDRA}},
			{MatchExpressions: []corev1.NodeSelectorRequirement{gpu, notDRA}},
			// Helm merges the operator's nodeSelector into the default one.
		}, wantSelector: map[string]string{"pool": "gpu", "gantry.dev/agent": "true", "gantry.dev/agent-mode": "dra"}, wantPreferr: 1},
		{name: "a selector naming another mode is overridden", devicePlugin: map[string]any{
			"nodeSelector": map[string]any{"gantry.dev/agent": "true", "gantry.dev/agent-mode": "device-plugin"},
		}, wantTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{notDRA}}},
			wantSelector: map[string]string{"gantry.dev/agent": "true", "gantry.dev/agent-mode": "dra"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vals := map[string]any{}
			if tc.devicePlugin != nil {
				vals["devicePlugin"] = tc.devicePlugin
			}
			objs := mustRender(t, c, vals)
			dp := objs[key{"DaemonSet", namespace, "gantry-device-plugin"}].(*appsv1.DaemonSet).Spec.Template.Spec
			if dp.Affinity == nil || dp.Affinity.NodeAffinity == nil || dp.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
				t.Fatalf("device-plugin DaemonSet has no required node affinity: %+v", dp.Affinity)
			}
			na := dp.Affinity.NodeAffinity
			if diff := cmp.Diff(tc.wantTerms, na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms); diff != "" {
				t.Errorf("device-plugin node selector terms (-want +got):\n%s", diff)
			}
			if len(na.PreferredDuringSchedulingIgnoredDuringExecution) != tc.wantPreferr {
				t.Errorf("preferred terms %v, want %d", na.PreferredDuringSchedulingIgnoredDuringExecution, tc.wantPreferr)
			}
			dra := objs[key{"DaemonSet", namespace, "gantry-dra-driver"}].(*appsv1.DaemonSet).Spec.Template.Spec
			if diff := cmp.Diff(tc.wantSelector, dra.NodeSelector); diff != "" {
				t.Errorf("DRA DaemonSet nodeSelector (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDRADaemonSet: the DRA-mode agent runs as its own identity with the
// same hardening as the device-plugin agent, mounts the kubelet plugin
// directories at their host paths (kubelet dials the socket path the driver
// registers), and mounts nothing of device-plugin mode.
func TestDRADaemonSet(t *testing.T) {
	c := loadChart(t)
	for _, kubeletDir := range []string{"/var/lib/kubelet", "/var/lib/k0s/kubelet"} {
		t.Run(kubeletDir, func(t *testing.T) {
			objs := mustRender(t, c, map[string]any{"devicePlugin": map[string]any{"kubeletDir": kubeletDir}})
			spec := objs[key{"DaemonSet", namespace, "gantry-dra-driver"}].(*appsv1.DaemonSet).Spec.Template.Spec
			dp := objs[key{"DaemonSet", namespace, "gantry-device-plugin"}].(*appsv1.DaemonSet).Spec.Template.Spec
			if spec.ServiceAccountName != "gantry-dra-driver" {
				t.Errorf("serviceAccountName %q, want gantry-dra-driver", spec.ServiceAccountName)
			}
			ctr := spec.Containers[0]
			if diff := cmp.Diff(dp.Containers[0].SecurityContext, ctr.SecurityContext); diff != "" {
				t.Errorf("securityContext differs from the device-plugin agent's (-device-plugin +dra):\n%s", diff)
			}
			if sc := ctr.SecurityContext; sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
				*sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("securityContext %+v is not hardened", sc)
			}
			hostPaths := map[string]string{}
			for _, v := range spec.Volumes {
				if v.HostPath != nil {
					hostPaths[v.Name] = v.HostPath.Path
				}
			}
			mounts := map[string]string{}
			for _, m := range ctr.VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
			plugin, registry := kubeletDir+"/plugins/gpu.gantry.dev", kubeletDir+"/plugins_registry"
			for name, path := range map[string]string{"plugin": plugin, "plugins-registry": registry} {
				if hostPaths[name] != path || mounts[name] != path {
					t.Errorf("volume %s: host %q mounted at %q, want both %q", name, hostPaths[name], mounts[name], path)
				}
			}
			for _, name := range []string{"device-plugins", "pod-resources", "mps"} {
				if _, ok := hostPaths[name]; ok {
					t.Errorf("DRA mode mounts device-plugin mode's %s", name)
				}
			}
			args := strings.Join(ctr.Args, " ")
			for _, want := range []string{"--dra-plugin-dir=" + plugin, "--plugin-registration-dir=" + registry, "--config=/etc/gantry-device-plugin/config.yaml"} {
				if !strings.Contains(args, want) {
					t.Errorf("args %q lack %q", args, want)
				}
			}
		})
	}
}

// TestDRAValuesSchema: bad DRA values are turned away naming the key.
func TestDRAValuesSchema(t *testing.T) {
	c := loadChart(t)
	cases := []struct {
		name string
		vals map[string]any
		want string
	}{
		{"share over a card", map[string]any{"dra": map[string]any{"claimTemplates": map[string]any{"percents": []any{150}}}}, "/dra/claimTemplates/percents/0"},
		{"share of nothing", map[string]any{"dra": map[string]any{"claimTemplates": map[string]any{"percents": []any{0}}}}, "/dra/claimTemplates/percents/0"},
		{"not a namespace name", map[string]any{"dra": map[string]any{"claimTemplates": map[string]any{"namespaces": []any{"Team_A"}}}}, "/dra/claimTemplates/namespaces/0"},
		{"unknown key", map[string]any{"dra": map[string]any{"mode": "dra"}}, "additional properties 'mode' not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, c, tc.vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestChartClaimTemplatesAreTheWebhooksRewrites: whatever percents an
// operator lists, each template the chart renders has the name and asks
// what gantry-webhook's DRA rewrite references for that share
// (core/dra.ClaimTemplate), so a pod asking gantry.dev/gpu-percent in a DRA
// namespace finds it.
func TestChartClaimTemplatesAreTheWebhooksRewrites(t *testing.T) {
	c := loadChart(t)
	percents := []int{1, 30, 75, 100}
	var vals []any
	for _, p := range percents {
		vals = append(vals, p)
	}
	got := mustRender(t, c, map[string]any{"dra": map[string]any{"claimTemplates": map[string]any{"namespaces": []any{"team-a"}, "percents": vals}}})
	for _, p := range percents {
		want := coredra.ClaimTemplate("team-a", coredra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: p}})
		g, ok := got[key{"ResourceClaimTemplate", "team-a", want.Name}].(*resourceapi.ResourceClaimTemplate)
		if !ok {
			t.Errorf("the chart renders no ResourceClaimTemplate team-a/%s", want.Name)
			continue
		}
		if !coredra.SameClaimSpec(want.Spec.Spec, g.Spec.Spec) {
			t.Errorf("%s asks %+v, the rewrite's asks %+v", want.Name, g.Spec.Spec, want.Spec.Spec)
		}
		if g.Labels[coredra.LabelTemplatePercent] != want.Labels[coredra.LabelTemplatePercent] {
			t.Errorf("%s: label %s=%q, want %q", want.Name, coredra.LabelTemplatePercent, g.Labels[coredra.LabelTemplatePercent], want.Labels[coredra.LabelTemplatePercent])
		}
	}
}
