package helm_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	schedconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	schedscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	schedvalidation "k8s.io/kubernetes/pkg/scheduler/apis/config/validation"
	sigsyaml "sigs.k8s.io/yaml"

	autoscalerv1alpha1 "github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	devicepluginconfig "github.com/gantry-dev/gantry/deviceplugin/apis/config"
	devicepluginv1alpha1 "github.com/gantry-dev/gantry/deviceplugin/apis/config/v1alpha1"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
	gantryscheme "github.com/gantry-dev/gantry/scheduler/apis/config/scheme"
)

const (
	chartDir   = "gantry"
	namespace  = "kube-system"
	pluginName = "GantryDeviceShare"
)

// strict decodes with client-go's scheme and rejects unknown or duplicate
// fields, so a mis-indented template fails rather than losing a field.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// key names one object.
type key struct{ Kind, Namespace, Name string }

func (k key) String() string { return k.Kind + " " + k.Namespace + "/" + k.Name }

// objects are the decoded objects of one rendering or one kustomize folder.
type objects map[key]runtime.Object

func (o objects) keys() []string {
	var out []string
	for k := range o {
		out = append(out, k.String())
	}
	sort.Strings(out)
	return out
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	if c.Metadata.APIVersion != chart.APIVersionV2 {
		t.Fatalf("Chart.yaml apiVersion %q, want %q", c.Metadata.APIVersion, chart.APIVersionV2)
	}
	return c
}

// render renders the chart with vals (user values, merged over values.yaml
// and validated against values.schema.json as helm install does).
func render(t *testing.T, c *chart.Chart, vals map[string]any) (map[string]string, error) {
	t.Helper()
	rv, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{
		Name: "gantry", Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(c, rv)
}

// mustRender renders and decodes every document strictly.
func mustRender(t *testing.T, c *chart.Chart, vals map[string]any) objects {
	t.Helper()
	out, err := render(t, c, vals)
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	objs := objects{}
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		decodeInto(t, name, []byte(out[name]), objs)
	}
	return objs
}

// decodeInto decodes each YAML document of data into objs.
func decodeInto(t *testing.T, source string, data []byte, objs objects) {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", source, i, err)
		}
		j, err := sigsyaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: document %d is not YAML: %v\n%s", source, i, err, doc)
		}
		if s := string(bytes.TrimSpace(j)); s == "null" || s == "" {
			continue // comments only, or a disabled template
		}
		obj, gvk, err := strict.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s: document %d does not decode: %v\n%s", source, i, err, doc)
		}
		m, ok := obj.(interface {
			GetName() string
			GetNamespace() string
		})
		if !ok {
			t.Fatalf("%s: document %d: %s has no metadata", source, i, gvk)
		}
		k := key{gvk.Kind, m.GetNamespace(), m.GetName()}
		if _, dup := objs[k]; dup {
			t.Fatalf("%s: %s rendered twice", source, k)
		}
		objs[k] = obj
	}
}

// kustomize decodes the YAML files of one manifests/ folder. The
// autoscaler's configMapGenerator is reproduced from its kustomization.
func kustomize(t *testing.T, dir string, files ...string) objects {
	t.Helper()
	objs := objects{}
	for _, f := range files {
		path := filepath.Join("..", dir, f)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		decodeInto(t, path, data, objs)
	}
	return objs
}

func readManifest(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var (
	schedulerObjects = []key{
		{"ServiceAccount", namespace, "gantry-scheduler"},
		{"ClusterRoleBinding", "", "gantry-scheduler-as-kube-scheduler"},
		{"ClusterRoleBinding", "", "gantry-scheduler-as-volume-scheduler"},
		{"Role", namespace, "gantry-scheduler-leader-election"},
		{"RoleBinding", namespace, "gantry-scheduler-leader-election"},
		{"RoleBinding", namespace, "gantry-scheduler-auth-reader"},
		{"Deployment", namespace, "gantry-scheduler"},
		{"PodDisruptionBudget", namespace, "gantry-scheduler"},
	}
	schedulerPreBindObjects = []key{
		{"ClusterRole", "", "gantry-scheduler"},
		{"ClusterRoleBinding", "", "gantry-scheduler"},
	}
	schedulerConfig     = key{"ConfigMap", namespace, "gantry-scheduler-config"}
	devicePluginObjects = []key{
		{"ServiceAccount", namespace, "gantry-device-plugin"},
		{"ClusterRole", "", "gantry-device-plugin"},
		{"ClusterRoleBinding", "", "gantry-device-plugin"},
		{"ValidatingAdmissionPolicy", "", "gantry-device-plugin-own-node"},
		{"ValidatingAdmissionPolicyBinding", "", "gantry-device-plugin-own-node"},
		{"ConfigMap", namespace, "gantry-device-plugin-config"},
		{"DaemonSet", namespace, "gantry-device-plugin"},
	}
	draObjects = []key{
		{"DeviceClass", "", "gpu.gantry.dev"},
		{"DeviceClass", "", "npu.gantry.dev"},
		{"ServiceAccount", namespace, "gantry-dra-driver"},
		{"ClusterRole", "", "gantry-dra-driver"},
		{"ClusterRoleBinding", "", "gantry-dra-driver"},
		{"ValidatingAdmissionPolicy", "", "gantry-dra-driver-own-slices"},
		{"ValidatingAdmissionPolicyBinding", "", "gantry-dra-driver-own-slices"},
		{"ConfigMap", namespace, "gantry-dra-driver-config"},
		{"DaemonSet", namespace, "gantry-dra-driver"},
	}
	webhookObjects = []key{
		{"ServiceAccount", namespace, "gantry-webhook"},
		{"Role", namespace, "gantry-webhook"},
		{"RoleBinding", namespace, "gantry-webhook"},
		{"ClusterRole", "", "gantry-webhook"},
		{"ClusterRoleBinding", "", "gantry-webhook"},
		{"ClusterRole", "", "gantry-webhook-claim-templates"},
		{"ClusterRoleBinding", "", "gantry-webhook-claim-templates"},
		{"Deployment", namespace, "gantry-webhook"},
		{"Service", namespace, "gantry-webhook"},
		{"PodDisruptionBudget", namespace, "gantry-webhook"},
		{"MutatingWebhookConfiguration", "", "gantry-webhook"},
		{"ValidatingWebhookConfiguration", "", "gantry-webhook"},
	}
	autoscalerObjects = []key{
		{"ServiceAccount", namespace, "gantry-autoscaler"},
		{"ClusterRole", "", "gantry-autoscaler"},
		{"ClusterRoleBinding", "", "gantry-autoscaler"},
		{"Role", namespace, "gantry-autoscaler-status"},
		{"RoleBinding", namespace, "gantry-autoscaler-status"},
		{"ConfigMap", namespace, "gantry-autoscaler-config"},
		{"ConfigMap", namespace, "gantry-autoscaler-status"},
		{"Deployment", namespace, "gantry-autoscaler"},
	}
	autoscalerLeaderObjects = []key{
		{"Role", namespace, "gantry-autoscaler-leader-election"},
		{"RoleBinding", namespace, "gantry-autoscaler-leader-election"},
	}
)

func TestRenderToggles(t *testing.T) {
	c := loadChart(t)
	off := func(component string) map[string]any {
		return map[string]any{component: map[string]any{"enabled": false}}
	}
	cases := []struct {
		name    string
		vals    map[string]any
		want    [][]key
		wantCfg bool
	}{
		{"defaults", nil, [][]key{schedulerObjects, devicePluginObjects, draObjects, autoscalerObjects, autoscalerLeaderObjects, webhookObjects}, true},
		// The autoscaler simulates with the scheduler's ConfigMap, so it stays.
		{"scheduler disabled", off("scheduler"), [][]key{devicePluginObjects, draObjects, autoscalerObjects, autoscalerLeaderObjects, webhookObjects}, true},
		{"device plugin disabled", off("devicePlugin"), [][]key{schedulerObjects, draObjects, autoscalerObjects, autoscalerLeaderObjects, webhookObjects}, true},
		{"DRA mode disabled", off("dra"), [][]key{schedulerObjects, devicePluginObjects, autoscalerObjects, autoscalerLeaderObjects, webhookObjects}, true},
		{"claim templates in two namespaces", map[string]any{"dra": map[string]any{"claimTemplates": map[string]any{
			"namespaces": []any{"team-a", "team-b"}, "percents": []any{25, 100}}}},
			[][]key{schedulerObjects, devicePluginObjects, draObjects, autoscalerObjects, autoscalerLeaderObjects, webhookObjects, {
				{"ResourceClaimTemplate", "team-a", "gpu-25"}, {"ResourceClaimTemplate", "team-a", "gpu-100"},
				{"ResourceClaimTemplate", "team-b", "gpu-25"}, {"ResourceClaimTemplate", "team-b", "gpu-100"},
			}}, true},
		{"autoscaler without leader election", map[string]any{"autoscaler": map[string]any{"leaderElect": false}},
			[][]key{schedulerObjects, devicePluginObjects, draObjects, autoscalerObjects, webhookObjects}, true},
		{"autoscaler disabled", off("autoscaler"), [][]key{schedulerObjects, devicePluginObjects, draObjects, webhookObjects}, true},
		{"webhook disabled", off("webhook"), [][]key{schedulerObjects, devicePluginObjects, draObjects, autoscalerObjects, autoscalerLeaderObjects}, true},
		// PreBind patches the allocation on the pod: only then may the
		// scheduler patch pods.
		{"scheduler writing in PreBind", map[string]any{"scheduler": map[string]any{"writeAllocation": "PreBind"}},
			[][]key{schedulerObjects, schedulerPreBindObjects, devicePluginObjects, draObjects, autoscalerObjects, autoscalerLeaderObjects, webhookObjects}, true},
		{"all disabled", map[string]any{
			"scheduler":    map[string]any{"enabled": false},
			"devicePlugin": map[string]any{"enabled": false},
			"dra":          map[string]any{"enabled": false},
			"autoscaler":   map[string]any{"enabled": false},
			"webhook":      map[string]any{"enabled": false},
		}, nil, false},
		{"scheduler disabled, autoscaler without its config", map[string]any{
			"scheduler":  map[string]any{"enabled": false},
			"autoscaler": map[string]any{"useSchedulerConfig": false},
		}, [][]key{devicePluginObjects, draObjects, autoscalerObjects, autoscalerLeaderObjects, webhookObjects}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := mustRender(t, c, tc.vals)
			var want []string
			for _, ks := range tc.want {
				for _, k := range ks {
					want = append(want, k.String())
				}
			}
			if tc.wantCfg {
				want = append(want, schedulerConfig.String())
			}
			sort.Strings(want)
			if diff := cmp.Diff(want, objs.keys()); diff != "" {
				t.Errorf("rendered objects (-want +got):\n%s", diff)
			}
			// Every ConfigMap a pod mounts is rendered too.
			for k, obj := range objs {
				var spec *corev1.PodSpec
				switch o := obj.(type) {
				case *appsv1.Deployment:
					spec = &o.Spec.Template.Spec
				case *appsv1.DaemonSet:
					spec = &o.Spec.Template.Spec
				default:
					continue
				}
				for _, v := range spec.Volumes {
					if v.ConfigMap == nil {
						continue
					}
					if _, ok := objs[key{"ConfigMap", namespace, v.ConfigMap.Name}]; !ok {
						t.Errorf("%s mounts ConfigMap %s, which is not rendered", k, v.ConfigMap.Name)
					}
				}
			}
		})
	}
}

// schedulerConfigOf decodes a KubeSchedulerConfiguration with kube-scheduler's
// own scheme (defaulted, converted to the internal form, validated) and the
// GantryDeviceShare args with Gantry's. The returned configuration has the
// plugin's raw args removed so that two of them compare with cmp.Diff.
func schedulerConfigOf(t *testing.T, source string, data []byte) (*schedconfig.KubeSchedulerConfiguration, *gantryconfig.DeviceShareArgs) {
	t.Helper()
	obj, _, err := schedscheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("%s: kube-scheduler cannot decode its configuration: %v\n%s", source, err, data)
	}
	cfg, ok := obj.(*schedconfig.KubeSchedulerConfiguration)
	if !ok {
		t.Fatalf("%s: decoded a %T", source, obj)
	}
	if err := schedvalidation.ValidateKubeSchedulerConfiguration(cfg); err != nil {
		t.Fatalf("%s: kube-scheduler rejects its configuration: %v", source, err)
	}
	if len(cfg.Profiles) != 1 {
		t.Fatalf("%s: %d profiles, want 1", source, len(cfg.Profiles))
	}
	var args *gantryconfig.DeviceShareArgs
	prof := &cfg.Profiles[0]
	for i := range prof.PluginConfig {
		pc := &prof.PluginConfig[i]
		if pc.Name != pluginName {
			continue
		}
		u, ok := pc.Args.(*runtime.Unknown)
		if !ok {
			t.Fatalf("%s: %s args decoded as %T, want raw args", source, pluginName, pc.Args)
		}
		path := field.NewPath("profiles").Index(0).Child("pluginConfig").Index(i).Child("args")
		args, err = gantryscheme.DecodeArgs(u.Raw, path)
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		pc.Args = nil
	}
	if args == nil {
		t.Fatalf("%s: no %s pluginConfig", source, pluginName)
	}
	return cfg, args
}

func renderedSchedulerConfig(t *testing.T, objs objects) []byte {
	t.Helper()
	cm, ok := objs[schedulerConfig].(*corev1.ConfigMap)
	if !ok {
		t.Fatalf("no %s rendered", schedulerConfig)
	}
	data, ok := cm.Data["scheduler-config.yaml"]
	if !ok {
		t.Fatalf("%s has no scheduler-config.yaml", schedulerConfig)
	}
	return []byte(data)
}

func TestSchedulerConfigMatchesKustomize(t *testing.T) {
	c := loadChart(t)
	got, gotArgs := schedulerConfigOf(t, "chart", renderedSchedulerConfig(t, mustRender(t, c, nil)))

	// What kustomize installs (the ConfigMap in deployment.yaml) and the
	// annotated copy next to it must both equal the chart's.
	kust := kustomize(t, "scheduler", "deployment.yaml")
	wants := map[string][]byte{
		"manifests/scheduler/deployment.yaml":       renderedSchedulerConfig(t, kust),
		"manifests/scheduler/scheduler-config.yaml": readManifest(t, "scheduler/scheduler-config.yaml"),
	}
	for source, data := range wants {
		want, wantArgs := schedulerConfigOf(t, source, data)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("KubeSchedulerConfiguration differs from %s (-kustomize +chart):\n%s", source, diff)
		}
		if diff := cmp.Diff(wantArgs, gotArgs); diff != "" {
			t.Errorf("%s args differ from %s (-kustomize +chart):\n%s", pluginName, source, diff)
		}
	}

	// The bind ordering writeAllocation: Bind needs.
	bind := got.Profiles[0].Plugins.Bind
	wantBind := schedconfig.PluginSet{
		Enabled:  []schedconfig.Plugin{{Name: pluginName}, {Name: "DefaultBinder"}},
		Disabled: []schedconfig.Plugin{{Name: "*"}},
	}
	if diff := cmp.Diff(wantBind, bind); diff != "" {
		t.Errorf("bind plugins (-want +got):\n%s", diff)
	}
	if gotArgs.WriteAllocation != gantryconfig.WriteInBind {
		t.Errorf("writeAllocation %q, want %q", gotArgs.WriteAllocation, gantryconfig.WriteInBind)
	}
}

func TestSchedulerValues(t *testing.T) {
	c := loadChart(t)
	objs := mustRender(t, c, map[string]any{"scheduler": map[string]any{
		"policy":           "FGD",
		"zoneSpreadWeight": 20,
		"writeAllocation":  "PreBind",
		"workload": []any{
			map[string]any{"count": 1, "percent": 25, "weight": 3},
			map[string]any{"count": 2, "percent": 100, "weight": 1, "models": []any{"A100"}},
		},
		"image":        map[string]any{"tag": "v1.2.3", "pullPolicy": "IfNotPresent"},
		"nodeSelector": map[string]any{"node-role.kubernetes.io/control-plane": ""},
		"tolerations": []any{map[string]any{
			"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule",
		}},
		"resources": map[string]any{"limits": map[string]any{"memory": "1Gi"}},
	}})
	cfg, args := schedulerConfigOf(t, "chart", renderedSchedulerConfig(t, objs))
	if args.Policy != "FGD" || args.ZoneSpreadWeight != 20 ||
		args.WriteAllocation != gantryconfig.WriteInPreBind || len(args.Workload) != 2 {
		t.Errorf("args not taken from values: %+v", args)
	}
	// With PreBind the default binder binds every pod.
	for _, p := range cfg.Profiles[0].Plugins.Bind.Enabled {
		if p.Name == pluginName {
			t.Errorf("%s is a bind plugin with writeAllocation: PreBind", pluginName)
		}
	}
	d := objs[key{"Deployment", namespace, "gantry-scheduler"}].(*appsv1.Deployment)
	spec := d.Spec.Template.Spec
	ctr := spec.Containers[0]
	if ctr.Image != "ghcr.io/gantry-dev/gantry-scheduler:v1.2.3" || ctr.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %q pull policy %q", ctr.Image, ctr.ImagePullPolicy)
	}
	if len(spec.Tolerations) != 1 || spec.NodeSelector["node-role.kubernetes.io/control-plane"] != "" || len(spec.NodeSelector) != 1 {
		t.Errorf("nodeSelector %v tolerations %v", spec.NodeSelector, spec.Tolerations)
	}
	if m := ctr.Resources.Limits.Memory(); m.String() != "1Gi" {
		t.Errorf("memory limit %v", m)
	}

	// seed reaches the Random policy.
	objs = mustRender(t, c, map[string]any{"scheduler": map[string]any{"policy": "Random", "seed": 7}})
	if _, args := schedulerConfigOf(t, "chart", renderedSchedulerConfig(t, objs)); args.Policy != "Random" || args.Seed != 7 {
		t.Errorf("policy %q seed %d, want Random 7", args.Policy, args.Seed)
	}
}

// TestRBACMatchesKustomize compares every RBAC object of the chart, rendered
// into kube-system, with the kustomize manifests: the same objects, rules,
// role references and subjects.
func TestRBACMatchesKustomize(t *testing.T) {
	c := loadChart(t)
	chartObjs := mustRender(t, c, nil)
	kust := objects{}
	for dir, files := range map[string][]string{
		"scheduler":    {"rbac.yaml"},
		"deviceplugin": {"rbac.yaml"},
		"dra":          {"driver-rbac.yaml"},
		"autoscaler":   {"rbac.yaml"},
		"webhook":      {"rbac.yaml"},
	} {
		for k, v := range kustomize(t, dir, files...) {
			kust[k] = v
		}
	}
	rbacOnly := func(o objects) objects {
		out := objects{}
		for k, v := range o {
			switch v.(type) {
			case *corev1.ServiceAccount, *rbacv1.ClusterRole, *rbacv1.Role, *rbacv1.ClusterRoleBinding, *rbacv1.RoleBinding:
				out[k] = v
			}
		}
		return out
	}
	got, want := rbacOnly(chartObjs), rbacOnly(kust)
	if diff := cmp.Diff(want.keys(), got.keys()); diff != "" {
		t.Fatalf("RBAC objects (-kustomize +chart):\n%s", diff)
	}
	for k, w := range want {
		var wv, gv any
		switch w := w.(type) {
		case *rbacv1.ClusterRole:
			wv, gv = w.Rules, got[k].(*rbacv1.ClusterRole).Rules
		case *rbacv1.Role:
			wv, gv = w.Rules, got[k].(*rbacv1.Role).Rules
		case *rbacv1.ClusterRoleBinding:
			g := got[k].(*rbacv1.ClusterRoleBinding)
			wv, gv = []any{w.RoleRef, w.Subjects}, []any{g.RoleRef, g.Subjects}
		case *rbacv1.RoleBinding:
			g := got[k].(*rbacv1.RoleBinding)
			wv, gv = []any{w.RoleRef, w.Subjects}, []any{g.RoleRef, g.Subjects}
		default:
			continue
		}
		if diff := cmp.Diff(wv, gv); diff != "" {
			t.Errorf("%s (-kustomize +chart):\n%s", k, diff)
		}
	}
}

// TestWorkloadsMatchKustomize compares the pod specs and the autoscaler's
// configuration of the default rendering with the kustomize manifests.
func TestWorkloadsMatchKustomize(t *testing.T) {
	c := loadChart(t)
	got := mustRender(t, c, nil)
	kust := objects{}
	for dir, files := range map[string][]string{
		"scheduler":    {"deployment.yaml"},
		"deviceplugin": {"daemonset.yaml"},
		"dra":          {"agent-daemonset.yaml"},
		"autoscaler":   {"deployment.yaml"},
		"webhook":      {"deployment.yaml"},
	} {
		for k, v := range kustomize(t, dir, files...) {
			kust[k] = v
		}
	}
	podSpec := func(o runtime.Object) corev1.PodSpec {
		switch o := o.(type) {
		case *appsv1.Deployment:
			return o.Spec.Template.Spec
		case *appsv1.DaemonSet:
			return o.Spec.Template.Spec
		}
		t.Fatalf("%T is not a workload", o)
		return corev1.PodSpec{}
	}
	for _, k := range []key{
		{"Deployment", namespace, "gantry-scheduler"},
		{"DaemonSet", namespace, "gantry-device-plugin"},
		{"DaemonSet", namespace, "gantry-dra-driver"},
		{"Deployment", namespace, "gantry-autoscaler"},
		{"Deployment", namespace, "gantry-webhook"},
	} {
		w, ok := kust[k]
		if !ok {
			t.Fatalf("kustomize has no %s", k)
		}
		if diff := cmp.Diff(podSpec(w), podSpec(got[k])); diff != "" {
			t.Errorf("%s pod spec (-kustomize +chart):\n%s", k, diff)
		}
	}

	cm := got[key{"ConfigMap", namespace, "gantry-autoscaler-config"}].(*corev1.ConfigMap)
	gotCfg, err := autoscalerv1alpha1.Load([]byte(cm.Data["autoscaler-config.yaml"]))
	if err != nil {
		t.Fatalf("chart's AutoscalerConfiguration: %v", err)
	}
	wantCfg, err := autoscalerv1alpha1.Load(readManifest(t, "autoscaler/autoscaler-config.yaml"))
	if err != nil {
		t.Fatalf("kustomize's AutoscalerConfiguration: %v", err)
	}
	if diff := cmp.Diff(wantCfg, gotCfg); diff != "" {
		t.Errorf("AutoscalerConfiguration (-kustomize +chart):\n%s", diff)
	}

	// The node agent's configuration: strictly decoded and validated, the
	// chart's equal to kustomize's, and the safe default (CDI, no MPS).
	dpKey := key{"ConfigMap", namespace, "gantry-device-plugin-config"}
	gotDP, err := devicepluginv1alpha1.Load([]byte(got[dpKey].(*corev1.ConfigMap).Data["config.yaml"]))
	if err != nil {
		t.Fatalf("chart's DevicePluginConfiguration: %v", err)
	}
	kustDP := kustomize(t, "deviceplugin", "config.yaml")[key{"ConfigMap", "kube-system", "gantry-device-plugin-config"}].(*corev1.ConfigMap)
	wantDP, err := devicepluginv1alpha1.Load([]byte(kustDP.Data["config.yaml"]))
	if err != nil {
		t.Fatalf("kustomize's DevicePluginConfiguration: %v", err)
	}
	if diff := cmp.Diff(wantDP, gotDP); diff != "" {
		t.Errorf("DevicePluginConfiguration (-kustomize +chart):\n%s", diff)
	}
	if gotDP.Mode != devicepluginconfig.ModeDevicePlugin || gotDP.DeviceListStrategy != devicepluginconfig.StrategyCDI || gotDP.MPS.Enabled {
		t.Errorf("the shipped agent configuration must be device-plugin mode, cdi without MPS, got %s, %s, mps %v", gotDP.Mode, gotDP.DeviceListStrategy, gotDP.MPS.Enabled)
	}

	// The DRA-mode agent's configuration, the same way.
	draKey := key{"ConfigMap", namespace, "gantry-dra-driver-config"}
	gotDRA, err := devicepluginv1alpha1.Load([]byte(got[draKey].(*corev1.ConfigMap).Data["config.yaml"]))
	if err != nil {
		t.Fatalf("chart's DRA-mode DevicePluginConfiguration: %v", err)
	}
	kustDRA := kustomize(t, "dra", "agent-config.yaml")[draKey].(*corev1.ConfigMap)
	wantDRA, err := devicepluginv1alpha1.Load([]byte(kustDRA.Data["config.yaml"]))
	if err != nil {
		t.Fatalf("kustomize's DRA-mode DevicePluginConfiguration: %v", err)
	}
	if diff := cmp.Diff(wantDRA, gotDRA); diff != "" {
		t.Errorf("DRA-mode DevicePluginConfiguration (-kustomize +chart):\n%s", diff)
	}
	if gotDRA.Mode != devicepluginconfig.ModeDRA {
		t.Errorf("gantry-dra-driver-config runs mode %q, want dra", gotDRA.Mode)
	}
}

// TestValuesSchema checks that values.schema.json turns typos and bad
// values away, naming the offending key.
func TestValuesSchema(t *testing.T) {
	c := loadChart(t)
	cases := []struct {
		name string
		vals map[string]any
		want []string // substrings of the error
	}{
		{"unknown top-level key", map[string]any{"schedular": map[string]any{"enabled": false}},
			[]string{"additional properties 'schedular' not allowed"}},
		{"unknown scheduler key", map[string]any{"scheduler": map[string]any{"zoneSpreadWieght": 10}},
			[]string{"zoneSpreadWieght"}},
		{"bad policy", map[string]any{"scheduler": map[string]any{"policy": "fgd"}},
			[]string{"/scheduler/policy", "FGD"}},
		// FGDPlus was FGD's own definition under another name; it is gone.
		{"removed policy FGDPlus", map[string]any{"scheduler": map[string]any{"policy": "FGDPlus"}},
			[]string{"/scheduler/policy"}},
		{"zone spread out of range", map[string]any{"scheduler": map[string]any{"zoneSpreadWeight": 150}},
			[]string{"/scheduler/zoneSpreadWeight", "100"}},
		{"bad writeAllocation", map[string]any{"scheduler": map[string]any{"writeAllocation": "bind"}},
			[]string{"/scheduler/writeAllocation"}},
		{"enabled as a string", map[string]any{"devicePlugin": map[string]any{"enabled": "false"}},
			[]string{"/devicePlugin/enabled", "boolean"}},
		{"nodeSelector value not a string", map[string]any{"devicePlugin": map[string]any{"nodeSelector": map[string]any{"gantry.dev/agent": true}}},
			[]string{"/devicePlugin/nodeSelector"}},
		{"MPS without the compute capability", map[string]any{"devicePlugin": map[string]any{"config": map[string]any{"mps": map[string]any{"enabled": true}}}},
			[]string{"driverCapabilities to include compute"}},
		{"MPS with the envvar strategy", map[string]any{"devicePlugin": map[string]any{"config": map[string]any{"deviceListStrategy": "envvar", "mps": map[string]any{"enabled": true}},
			"nvidia": map[string]any{"driverCapabilities": "utility,compute"}}},
			[]string{"deviceListStrategy: cdi"}},
		{"unknown device list strategy", map[string]any{"devicePlugin": map[string]any{"config": map[string]any{"deviceListStrategy": "volume-mounts"}}},
			[]string{"/devicePlugin/config/deviceListStrategy"}},
		{"apiVersion in the autoscaler config", map[string]any{"autoscaler": map[string]any{"config": map[string]any{"apiVersion": "x"}}},
			[]string{"/autoscaler/config"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, c, tc.vals)
			if err == nil {
				t.Fatal("rendered; want a schema error")
			}
			t.Logf("helm says: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
	// Good values pass the same validation.
	if _, err := render(t, c, map[string]any{"scheduler": map[string]any{"policy": "GPUPacking", "zoneSpreadWeight": 0}}); err != nil {
		t.Errorf("valid values rejected: %v", err)
	}
	mpsOn := map[string]any{"devicePlugin": map[string]any{"config": map[string]any{"mps": map[string]any{"enabled": true}},
		"nvidia": map[string]any{"driverCapabilities": "utility,compute"}}}
	out := mustRender(t, c, mpsOn)
	cfg, err := devicepluginv1alpha1.Load([]byte(out[key{"ConfigMap", namespace, "gantry-device-plugin-config"}].(*corev1.ConfigMap).Data["config.yaml"]))
	if err != nil || !cfg.MPS.Enabled {
		t.Errorf("MPS values: config %+v, error %v", cfg, err)
	}
}

// TestAdmissionMatchesKustomize compares the admission objects of the
// default rendering (the webhook configurations and the node agent's
// ValidatingAdmissionPolicy) with the kustomize manifests, labels aside.
func TestAdmissionMatchesKustomize(t *testing.T) {
	c := loadChart(t)
	got := mustRender(t, c, nil)
	want := kustomize(t, "webhook", "webhooks.yaml")
	for k, v := range kustomize(t, "deviceplugin", "admission-policy.yaml") {
		want[k] = v
	}
	// driver-rbac.yaml holds the DRA identity's RBAC (compared above) and
	// its policy.
	for k, v := range kustomize(t, "dra", "driver-rbac.yaml") {
		switch v.(type) {
		case *admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
			want[k] = v
		}
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("the chart renders no %s", k)
			continue
		}
		var wv, gv any
		switch w := w.(type) {
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			wv, gv = w.Webhooks, g.(*admissionregistrationv1.MutatingWebhookConfiguration).Webhooks
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			wv, gv = w.Webhooks, g.(*admissionregistrationv1.ValidatingWebhookConfiguration).Webhooks
		case *admissionregistrationv1.ValidatingAdmissionPolicy:
			wv, gv = w.Spec, g.(*admissionregistrationv1.ValidatingAdmissionPolicy).Spec
		case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
			wv, gv = w.Spec, g.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding).Spec
		default:
			t.Fatalf("unexpected %T in the admission manifests", w)
		}
		if diff := cmp.Diff(wv, gv); diff != "" {
			t.Errorf("%s (-kustomize +chart):\n%s", k, diff)
		}
	}
}

// TestWebhookCertManager renders the webhook with cert-manager: the pod
// reads the certificate cert-manager writes, the configurations ask its CA
// injector for caBundle, and the webhook loses its Secret and webhook
// configuration permissions (it keeps reading ResourceClaimTemplates for
// the DRA rewrite).
func TestWebhookCertManager(t *testing.T) {
	c := loadChart(t)
	out, err := render(t, c, map[string]any{"webhook": map[string]any{"certManager": map[string]any{"enabled": true}}})
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	var deploy, configs, rbac string
	for name, doc := range out {
		switch filepath.Base(name) {
		case "webhook-deployment.yaml":
			deploy = doc
		case "webhook-configurations.yaml":
			configs = doc
		case "webhook-rbac.yaml":
			rbac = doc
		}
	}
	for _, want := range []string{"--cert-mode=files", "kind: Certificate", "kind: Issuer", "secretName: gantry-webhook-tls"} {
		if !strings.Contains(deploy, want) {
			t.Errorf("webhook-deployment.yaml lacks %q", want)
		}
	}
	if n := strings.Count(configs, "cert-manager.io/inject-ca-from: kube-system/gantry-webhook"); n != 2 {
		t.Errorf("%d webhook configurations ask cert-manager for caBundle, want 2", n)
	}
	if strings.Contains(rbac, "kind: Role") || strings.Count(rbac, "\nkind: ClusterRole\n") != 1 || !strings.Contains(rbac, "name: gantry-webhook-claim-templates") ||
		strings.Contains(rbac, "secrets") || strings.Contains(rbac, "webhookconfigurations") {
		t.Errorf("with cert-manager the webhook needs only the ClusterRole that gets ResourceClaimTemplates:\n%s", rbac)
	}
}

// TestSecurityOverrides: operators may override the scheduler's and the
// webhook's pod and container securityContext and resources; the defaults
// run every pod non-root with the RuntimeDefault seccomp profile and a memory
// limit.
func TestSecurityOverrides(t *testing.T) {
	c := loadChart(t)
	defaults := mustRender(t, c, nil)
	for _, name := range []string{"gantry-scheduler", "gantry-webhook"} {
		d := defaults[key{"Deployment", namespace, name}].(*appsv1.Deployment)
		ps := d.Spec.Template.Spec
		if ps.SecurityContext == nil || ps.SecurityContext.SeccompProfile == nil || ps.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
			ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: pod securityContext %+v, want non-root with RuntimeDefault seccomp", name, ps.SecurityContext)
		}
		if ps.Containers[0].Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: no memory limit", name)
		}
		if ps.Affinity == nil || ps.Affinity.PodAntiAffinity == nil {
			t.Errorf("%s: replicas are not spread across nodes", name)
		}
	}
	over := mustRender(t, c, map[string]any{
		"scheduler": map[string]any{
			"podSecurityContext": map[string]any{"runAsNonRoot": true, "runAsUser": 1234, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
			"resources":          map[string]any{"limits": map[string]any{"memory": "3Gi"}},
		},
		"webhook": map[string]any{
			"securityContext": map[string]any{"runAsUser": 4321},
		},
	})
	s := over[key{"Deployment", namespace, "gantry-scheduler"}].(*appsv1.Deployment).Spec.Template.Spec
	if *s.SecurityContext.RunAsUser != 1234 || s.Containers[0].Resources.Limits.Memory().String() != "3Gi" {
		t.Errorf("scheduler overrides not applied: %+v %+v", s.SecurityContext, s.Containers[0].Resources)
	}
	w := over[key{"Deployment", namespace, "gantry-webhook"}].(*appsv1.Deployment).Spec.Template.Spec
	// Helm merges values: the override joins the hardened defaults.
	if sc := w.Containers[0].SecurityContext; sc.RunAsUser == nil || *sc.RunAsUser != 4321 || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("webhook securityContext override not applied: %+v", sc)
	}
}
