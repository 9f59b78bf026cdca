package sweep

import (
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"
)

// Mount points inside a cell's container.
const (
	GridMount = "/etc/gantry-sim"
	GridFile  = GridMount + "/grid.yaml"
	// AutoscalerFile is where a replay grid's autoscaler configuration is
	// mounted, beside the grid.
	AutoscalerFile = GridMount + "/autoscaler-config.yaml"
	DataMount      = "/data"
)

// JobOptions say how the Job runs the cells.
type JobOptions struct {
	Name, Namespace string
	// Image is the gantry-sim image (make images tags it with the release).
	Image string
	// Claim is the PersistentVolumeClaim mounted at /data: the grid's
	// traceDir and ResultsDir live on it.
	Claim string
	// ResultsDir is where the cells write, under /data.
	ResultsDir string
	// Parallelism is how many cells run at once.
	Parallelism int32
	// AutoscalerConfig is the content of the grid's autoscaler.config
	// file (required when the grid has an autoscaler): the ConfigMap
	// carries it, and the cells' grid names its mounted copy.
	AutoscalerConfig []byte
}

// Job returns the ConfigMap holding the grid (and a replay's autoscaler
// configuration) and the Indexed Job whose index i runs cell i (Kubernetes
// sets JOB_COMPLETION_INDEX).
func Job(g *Grid, o JobOptions) (*corev1.ConfigMap, *batchv1.Job, error) {
	for what, v := range map[string]string{"name": o.Name, "namespace": o.Namespace, "claim": o.Claim} {
		if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
			return nil, nil, fmt.Errorf("job %s %q: %v", what, v, errs)
		}
	}
	if o.Image == "" {
		return nil, nil, fmt.Errorf("job image: required")
	}
	if o.Parallelism < 1 {
		return nil, nil, fmt.Errorf("job parallelism %d: must be at least 1", o.Parallelism)
	}
	files := map[string]string{}
	cells := *g
	if g.Autoscaler != nil {
		if len(o.AutoscalerConfig) == 0 {
			return nil, nil, fmt.Errorf("job autoscaler configuration: required for a grid with an autoscaler (%s)", g.Autoscaler.Config)
		}
		a := *g.Autoscaler
		a.Config = AutoscalerFile
		cells.Autoscaler = &a
		files["autoscaler-config.yaml"] = string(o.AutoscalerConfig)
	}
	data, err := sigsyaml.Marshal(&cells)
	if err != nil {
		return nil, nil, err
	}
	files["grid.yaml"] = string(data)
	labels := map[string]string{"app.kubernetes.io/name": "gantry-sim-sweep", "app.kubernetes.io/instance": o.Name}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name + "-grid", Namespace: o.Namespace, Labels: labels},
		Data:       files,
	}
	n := int32(len(g.Cells()))
	indexed := batchv1.IndexedCompletion
	retries := int32(1)
	nonRoot, uid := true, int64(65532)
	no, yes := false, true
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			CompletionMode:       &indexed,
			Completions:          &n,
			Parallelism:          &o.Parallelism,
			BackoffLimitPerIndex: &retries,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					AutomountServiceAccountToken: &no,
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name:    "cell",
						Image:   o.Image,
						Command: []string{"/gantry-sim", "cell", "--grid=" + GridFile, "--results=" + DataMount + "/" + o.ResultsDir},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2Gi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("3Gi")},
						},
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "grid", MountPath: GridMount, ReadOnly: true},
							{Name: "data", MountPath: DataMount},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "grid", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}}}},
						{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: o.Claim}}},
					},
				},
			},
		},
	}
	job.Annotations = map[string]string{"gantry.dev/sweep-cells": strconv.Itoa(int(n))}
	return cm, job, nil
}

// Manifest renders the ConfigMap and the Job as one YAML stream.
func Manifest(cm *corev1.ConfigMap, job *batchv1.Job) ([]byte, error) {
	a, err := sigsyaml.Marshal(cm)
	if err != nil {
		return nil, err
	}
	b, err := sigsyaml.Marshal(job)
	if err != nil {
		return nil, err
	}
	return append(append(a, []byte("---\n")...), b...), nil
}
