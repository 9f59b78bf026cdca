package helm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestImagesUseTheReleaseTag: the chart's appVersion and every image the
// chart and the kustomize bases deploy is the tag `make images` builds
// (the repository's VERSION file), never latest.
func TestImagesUseTheReleaseTag(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(data))
	if version == "" || version == "latest" {
		t.Fatalf("VERSION is %q, want a release", version)
	}
	c := loadChart(t)
	if c.Metadata.AppVersion != version {
		t.Errorf("Chart.yaml appVersion %q, want VERSION %q", c.Metadata.AppVersion, version)
	}

	sets := map[string]objects{
		"chart":                  mustRender(t, c, nil),
		"manifests/scheduler":    kustomize(t, "scheduler", "deployment.yaml"),
		"manifests/autoscaler":   kustomize(t, "autoscaler", "deployment.yaml"),
		"manifests/deviceplugin": kustomize(t, "deviceplugin", "daemonset.yaml"),
		"manifests/dra":          kustomize(t, "dra", "agent-daemonset.yaml"),
	}
	// The DRA-mode agent is the node agent's binary in another mode.
	imageOf := map[string]string{"gantry-dra-driver": "gantry-device-plugin"}
	for source, objs := range sets {
		seen := 0
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
			for _, ctr := range append(spec.InitContainers, spec.Containers...) {
				seen++
				image := k.Name
				if i, ok := imageOf[k.Name]; ok {
					image = i
				}
				want := "ghcr.io/gantry-dev/" + image + ":" + version
				if ctr.Image != want {
					t.Errorf("%s: %s container %s runs %q, want %q", source, k, ctr.Name, ctr.Image, want)
				}
			}
		}
		if seen == 0 {
			t.Errorf("%s: no containers found", source)
		}
	}
}
