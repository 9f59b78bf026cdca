package share_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

func TestParse(t *testing.T) {
	gpu := func(container string, count, units int) share.Part {
		return share.Part{Container: container, Kind: device.GPU, Count: count, Units: units}
	}
	tests := []struct {
		name string
		pod  *coretest.PodWrapper
		want share.Request
	}{
		{name: "no device", pod: coretest.MakePod("p").Requests(2000, 4096),
			want: share.Request{Pod: "default/p", CPUMilli: 2000, MemoryMiB: 4096}},
		{name: "fraction", pod: coretest.MakePod("p").GPUPercent(30),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 1, 30)}}},
		{name: "one whole GPU", pod: coretest.MakePod("p").GPUPercent(100),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 1, 100)}}},
		{name: "two GPUs", pod: coretest.MakePod("p").GPUPercent(200),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 2, 100)}}},
		{name: "eight GPUs", pod: coretest.MakePod("p").GPUPercent(800),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 8, 100)}}},
		{name: "zero is ignored", pod: coretest.MakePod("p").GPUPercent(0),
			want: share.Request{Pod: "default/p"}},
		{name: "1k is ten GPUs", pod: coretest.MakePod("p").Limit(contract.ResourceGPUPercent, "1k"),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 10, 100)}}},
		{name: "request without limit", pod: coretest.MakePod("p").Request(contract.ResourceGPUPercent, "40"),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 1, 40)}}},
		{name: "NPU share", pod: coretest.MakePod("p").NPUPercent(50),
			want: share.Request{Pod: "default/p", Parts: []share.Part{{Container: "main", Kind: device.NPU, Count: 1, Units: 50}}}},
		{name: "containers sorted largest first, name breaks ties",
			pod: coretest.MakePod("p").GPUPercent(30).Requests(1000, 2048).
				Container("b").GPUPercent(60).Requests(500, 1024).
				Container("a").GPUPercent(60).
				Container("train").GPUPercent(200).
				Container("log").Requests(100, 64),
			want: share.Request{Pod: "default/p", CPUMilli: 1600, MemoryMiB: 3136,
				Parts: []share.Part{gpu("train", 2, 100), gpu("a", 1, 60), gpu("b", 1, 60), gpu("main", 1, 30)}}},
		{name: "whole before share of equal total", pod: coretest.MakePod("p").GPUPercent(100).Container("a").GPUPercent(100),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("a", 1, 100), gpu("main", 1, 100)}}},
		{name: "GPU and NPU in different containers", pod: coretest.MakePod("p").GPUPercent(20).Container("npu").NPUPercent(70),
			want: share.Request{Pod: "default/p", Parts: []share.Part{{Container: "npu", Kind: device.NPU, Count: 1, Units: 70}, gpu("main", 1, 20)}}},
		{name: "model list", pod: coretest.MakePod("p").GPUPercent(50).Models("V100M16|V100M32"),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 1, 50)},
				Models: map[device.Kind][]string{device.GPU: {"V100M16", "V100M32"}}}},
		{name: "model list trimmed and deduplicated", pod: coretest.MakePod("p").GPUPercent(50).Models(" V100M16 | V100M32|V100M16"),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 1, 50)},
				Models: map[device.Kind][]string{device.GPU: {"V100M16", "V100M32"}}}},
		{name: "NPU model list", pod: coretest.MakePod("p").NPUPercent(100).Annotation(contract.AnnotationNPUModels, "Ascend910B"),
			want: share.Request{Pod: "default/p", Parts: []share.Part{{Container: "main", Kind: device.NPU, Count: 1, Units: 100}},
				Models: map[device.Kind][]string{device.NPU: {"Ascend910B"}}}},
		{name: "allow shared device", pod: coretest.MakePod("p").GPUPercent(10).Annotation(contract.AnnotationAllowSharedDevice, "true"),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 1, 10)}, AllowSharedDevice: true}},
		{name: "isolation mps", pod: coretest.MakePod("p").GPUPercent(25).Annotation(contract.AnnotationIsolation, "mps"),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 1, 25)}, Isolation: device.IsolationMPS}},
		{name: "isolation none", pod: coretest.MakePod("p").GPUPercent(25).Annotation(contract.AnnotationIsolation, "none"),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 1, 25)}, Isolation: device.IsolationNone}},
		{name: "disallow shared device", pod: coretest.MakePod("p").GPUPercent(10).Annotation(contract.AnnotationAllowSharedDevice, "false"),
			want: share.Request{Pod: "default/p", Parts: []share.Part{gpu("main", 1, 10)}}},
		{name: "workload from label", pod: coretest.MakePod("p").Workload("web").Owner("ReplicaSet", "web-7d9", true),
			want: share.Request{Pod: "default/p", Workload: "default/web"}},
		{name: "workload from controller", pod: coretest.MakePod("p").Owner("Node", "n1", false).Owner("StatefulSet", "db", true),
			want: share.Request{Pod: "default/p", Workload: "default/StatefulSet/db"}},
		{name: "no workload without a controller", pod: coretest.MakePod("p").Owner("ConfigMap", "c", false),
			want: share.Request{Pod: "default/p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := share.Parse(tt.pod.Obj())
			require.NoError(t, err)
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("request (-want,+got):\n%s", diff)
			}
		})
	}
}

const gpuLimit = "spec.containers[0].resources.limits[gantry.dev/gpu-percent]"

func TestParseErrors(t *testing.T) {
	invalid := func(path string, value any, detail string) *field.Error {
		return &field.Error{Type: field.ErrorTypeInvalid, Field: path, BadValue: value, Detail: detail}
	}
	forbidden := func(path, detail string) *field.Error {
		return &field.Error{Type: field.ErrorTypeForbidden, Field: path, BadValue: "", Detail: detail}
	}
	const wholeNumber = "must be a whole number of percent (1..100, or a multiple of 100 for whole devices)"
	const initForbidden = "init containers may not request Gantry devices; request them on a regular container"
	const modelsAnn = "metadata.annotations[gantry.dev/gpu-models]"
	tests := []struct {
		name string
		pod  *coretest.PodWrapper
		want field.ErrorList
	}{
		{name: "negative", pod: coretest.MakePod("p").GPUPercent(-50),
			want: field.ErrorList{invalid(gpuLimit, int64(-50), "must not be negative")}},
		{name: "150", pod: coretest.MakePod("p").GPUPercent(150),
			want: field.ErrorList{invalid(gpuLimit, int64(150), "above 100 must be a whole multiple of 100 (whole devices); 150 is 1.50 devices")}},
		{name: "205", pod: coretest.MakePod("p").GPUPercent(205),
			want: field.ErrorList{invalid(gpuLimit, int64(205), "above 100 must be a whole multiple of 100 (whole devices); 205 is 2.05 devices")}},
		{name: "milli", pod: coretest.MakePod("p").Limit(contract.ResourceGPUPercent, "50m"),
			want: field.ErrorList{invalid(gpuLimit, "50m", wholeNumber)}},
		{name: "decimal", pod: coretest.MakePod("p").Limit(contract.ResourceGPUPercent, "0.5"),
			want: field.ErrorList{invalid(gpuLimit, "500m", wholeNumber)}},
		{name: "absurdly many devices", pod: coretest.MakePod("p").Limit(contract.ResourceGPUPercent, "1E"),
			want: field.ErrorList{invalid(gpuLimit, int64(1e18), "asks for more than 1024 devices")}},
		{name: "request differs from limit", pod: coretest.MakePod("p").GPUPercent(50).Request(contract.ResourceGPUPercent, "30"),
			want: field.ErrorList{invalid("spec.containers[0].resources.requests[gantry.dev/gpu-percent]", "30", "must equal the limit 50")}},
		{name: "GPU and NPU in one container", pod: coretest.MakePod("p").GPUPercent(50).NPUPercent(50),
			want: field.ErrorList{forbidden("spec.containers[0].resources.limits", "a container may request gantry.dev/gpu-percent or gantry.dev/npu-percent, not both")}},
		{name: "init container limit", pod: coretest.MakePod("p").InitContainer("fetch").InitLimit(contract.ResourceGPUPercent, "10"),
			want: field.ErrorList{forbidden("spec.initContainers[0].resources.limits[gantry.dev/gpu-percent]", initForbidden)}},
		{name: "second container's NPU", pod: coretest.MakePod("p").Container("side").NPUPercent(-1),
			want: field.ErrorList{invalid("spec.containers[1].resources.limits[gantry.dev/npu-percent]", int64(-1), "must not be negative")}},
		{name: "garbage model", pod: coretest.MakePod("p").GPUPercent(50).Models("V100;rm -rf"),
			want: field.ErrorList{invalid(modelsAnn, "V100;rm -rf", `model "V100;rm -rf" is not a valid model name (letters, digits, '.', '_' and '-', separated by '|')`)}},
		{name: "empty model list", pod: coretest.MakePod("p").GPUPercent(50).Models(" "),
			want: field.ErrorList{invalid(modelsAnn, " ", "empty model list; omit the annotation to accept any model")}},
		{name: "empty model in list", pod: coretest.MakePod("p").GPUPercent(50).Models("V100M16|"),
			want: field.ErrorList{invalid(modelsAnn, "V100M16|", `model "" is not a valid model name (letters, digits, '.', '_' and '-', separated by '|')`)}},
		{name: "model ending in a dash", pod: coretest.MakePod("p").GPUPercent(50).Models("A100-"),
			want: field.ErrorList{invalid(modelsAnn, "A100-", `model "A100-" is not a valid model name (letters, digits, '.', '_' and '-', separated by '|')`)}},
		{name: "models without a request", pod: coretest.MakePod("p").Models("V100M16"),
			want: field.ErrorList{invalid(modelsAnn, "V100M16", "constrains gpu models but the pod requests no gantry.dev/gpu-percent")}},
		{name: "models with a zero request", pod: coretest.MakePod("p").GPUPercent(0).Models("V100M16"),
			want: field.ErrorList{invalid(modelsAnn, "V100M16", "constrains gpu models but the pod requests no gantry.dev/gpu-percent")}},
		{name: "NPU models on a GPU pod", pod: coretest.MakePod("p").GPUPercent(50).Annotation(contract.AnnotationNPUModels, "Ascend910B"),
			want: field.ErrorList{invalid("metadata.annotations[gantry.dev/npu-models]", "Ascend910B", "constrains npu models but the pod requests no gantry.dev/npu-percent")}},
		{name: "models not blamed for a malformed request", pod: coretest.MakePod("p").GPUPercent(150).Models("V100M16"),
			want: field.ErrorList{invalid(gpuLimit, int64(150), "above 100 must be a whole multiple of 100 (whole devices); 150 is 1.50 devices")}},
		{name: "unknown isolation", pod: coretest.MakePod("p").GPUPercent(50).Annotation(contract.AnnotationIsolation, "hami"),
			want: field.ErrorList{{Type: field.ErrorTypeNotSupported, Field: "metadata.annotations[gantry.dev/isolation]", BadValue: "hami",
				Detail: `supported values: "none", "mps", "mig"`}}},
		{name: "empty isolation", pod: coretest.MakePod("p").GPUPercent(50).Annotation(contract.AnnotationIsolation, ""),
			want: field.ErrorList{{Type: field.ErrorTypeNotSupported, Field: "metadata.annotations[gantry.dev/isolation]", BadValue: "",
				Detail: `supported values: "none", "mps", "mig"`}}},
		{name: "isolation without a device", pod: coretest.MakePod("p").Annotation(contract.AnnotationIsolation, "mps"),
			want: field.ErrorList{invalid("metadata.annotations[gantry.dev/isolation]", "mps", "requires device isolation but the pod requests no gantry.dev/gpu-percent or gantry.dev/npu-percent")}},
		{name: "allow-shared-device garbage", pod: coretest.MakePod("p").GPUPercent(50).Annotation(contract.AnnotationAllowSharedDevice, "yes"),
			want: field.ErrorList{invalid("metadata.annotations[gantry.dev/allow-shared-device]", "yes", `must be "true" or "false"`)}},
		{name: "every error at once",
			pod: coretest.MakePod("p").GPUPercent(-5).
				InitContainer("fetch").InitLimit(contract.ResourceNPUPercent, "10").
				Container("b").GPUPercent(150).
				Container("c").GPUPercent(30).NPUPercent(30).
				Container("d").GPUPercent(20).Request(contract.ResourceGPUPercent, "21").
				Models("V100;rm -rf").
				Annotation(contract.AnnotationNPUModels, "Ascend910B").
				Annotation(contract.AnnotationAllowSharedDevice, "maybe"),
			want: field.ErrorList{
				forbidden("spec.initContainers[0].resources.limits[gantry.dev/npu-percent]", initForbidden),
				invalid(gpuLimit, int64(-5), "must not be negative"),
				invalid("spec.containers[1].resources.limits[gantry.dev/gpu-percent]", int64(150), "above 100 must be a whole multiple of 100 (whole devices); 150 is 1.50 devices"),
				forbidden("spec.containers[2].resources.limits", "a container may request gantry.dev/gpu-percent or gantry.dev/npu-percent, not both"),
				invalid("spec.containers[3].resources.requests[gantry.dev/gpu-percent]", "21", "must equal the limit 20"),
				invalid(modelsAnn, "V100;rm -rf", `model "V100;rm -rf" is not a valid model name (letters, digits, '.', '_' and '-', separated by '|')`),
				invalid("metadata.annotations[gantry.dev/allow-shared-device]", "maybe", `must be "true" or "false"`),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := share.Parse(tt.pod.Obj())
			assert.Nil(t, got)
			var invalid *share.InvalidRequestError
			require.True(t, errors.As(err, &invalid), "error %v is no *InvalidRequestError", err)
			assert.Equal(t, "default/p", invalid.Pod)
			if diff := cmp.Diff(tt.want, invalid.Errs, cmp.Comparer(sameFieldError)); diff != "" {
				t.Errorf("errors (-want,+got):\n%s", diff)
			}
		})
	}
}

func sameFieldError(a, b *field.Error) bool {
	return a.Type == b.Type && a.Field == b.Field && a.Detail == b.Detail && cmp.Equal(a.BadValue, b.BadValue)
}

func TestInvalidRequestErrorMessage(t *testing.T) {
	tests := []struct {
		name    string
		pod     *coretest.PodWrapper
		wantMsg string
	}{
		{name: "one error", pod: coretest.MakePod("p").GPUPercent(150),
			wantMsg: "pod default/p has an invalid Gantry request: " + gpuLimit + ": Invalid value: 150: above 100 must be a whole multiple of 100 (whole devices); 150 is 1.50 devices"},
		{name: "two errors", pod: coretest.MakePod("p").GPUPercent(-1).Annotation(contract.AnnotationAllowSharedDevice, "1"),
			wantMsg: "pod default/p has an invalid Gantry request: [" + gpuLimit + `: Invalid value: -1: must not be negative, metadata.annotations[gantry.dev/allow-shared-device]: Invalid value: "1": must be "true" or "false"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := share.Parse(tt.pod.Obj())
			require.EqualError(t, err, tt.wantMsg)
		})
	}
}

func TestParseModels(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    []string
		wantErr string
	}{
		{name: "one", value: "A100-SXM4-80GB", want: []string{"A100-SXM4-80GB"}},
		{name: "trace gpu_spec", value: "V100M16|V100M32", want: []string{"V100M16", "V100M32"}},
		{name: "empty", value: "", wantErr: "empty model list; omit the annotation to accept any model"},
		{name: "shell", value: "T4|$(reboot)", wantErr: `model "$(reboot)" is not a valid model name (letters, digits, '.', '_' and '-', separated by '|')`},
		{name: "63 characters", value: strings.Repeat("A", 63), want: []string{strings.Repeat("A", 63)}},
		{name: "64 characters", value: strings.Repeat("A", 64),
			wantErr: `model "` + strings.Repeat("A", 64) + `" is not a valid model name (letters, digits, '.', '_' and '-', separated by '|')`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := share.ParseModels(tt.value)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWorkloadOf(t *testing.T) {
	tests := []struct {
		name string
		pod  *coretest.PodWrapper
		want string
	}{
		{name: "label", pod: coretest.MakePod("p").Workload("web"), want: "default/web"},
		{name: "label beats controller", pod: coretest.MakePod("p").Workload("web").Owner("Job", "j", true), want: "default/web"},
		{name: "controller", pod: coretest.MakePod("p").Owner("Job", "j", true), want: "default/Job/j"},
		{name: "none", pod: coretest.MakePod("p"), want: ""},
		{name: "replica set of a deployment", pod: coretest.MakePod("p").Owner("ReplicaSet", "web-7d4b9c", true).Label("pod-template-hash", "7d4b9c"), want: "default/Deployment/web"},
		{name: "the next revision is the same workload", pod: coretest.MakePod("p").Owner("ReplicaSet", "web-5f6a21", true).Label("pod-template-hash", "5f6a21"), want: "default/Deployment/web"},
		{name: "bare replica set", pod: coretest.MakePod("p").Owner("ReplicaSet", "rs", true), want: "default/ReplicaSet/rs"},
		{name: "hash that is not the name's suffix", pod: coretest.MakePod("p").Owner("ReplicaSet", "rs", true).Label("pod-template-hash", "abc"), want: "default/ReplicaSet/rs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, share.WorkloadOf(tt.pod.Obj()))
		})
	}
}

// TestParseWithClaims: a pod whose claims may ask the devices (DRA mode) may
// carry model and isolation annotations without a gantry.dev resource;
// every other check is Parse's.
func TestParseWithClaims(t *testing.T) {
	modelsAnn := "metadata.annotations[gantry.dev/gpu-models]"
	tests := []struct {
		name    string
		pod     *coretest.PodWrapper
		want    *share.Request
		wantErr field.ErrorList
	}{
		{name: "models and isolation constrain the claims",
			pod:  coretest.MakePod("p").Models("V100M16|V100M32").Annotation(contract.AnnotationIsolation, "mps"),
			want: &share.Request{Pod: "default/p"}},
		{name: "a resource beside the claims is parsed as ever",
			pod: coretest.MakePod("p").GPUPercent(30).Models("A100"),
			want: &share.Request{Pod: "default/p", Parts: []share.Part{{Container: "main", Kind: device.GPU, Count: 1, Units: 30}},
				Models: map[device.Kind][]string{device.GPU: {"A100"}}}},
		{name: "a garbage model list is still refused",
			pod:     coretest.MakePod("p").Models("V100;rm"),
			wantErr: field.ErrorList{{Type: field.ErrorTypeInvalid, Field: modelsAnn, BadValue: "V100;rm", Detail: `model "V100;rm" is not a valid model name (letters, digits, '.', '_' and '-', separated by '|')`}}},
		{name: "an unknown isolation is still refused",
			pod: coretest.MakePod("p").Annotation(contract.AnnotationIsolation, "hami"),
			wantErr: field.ErrorList{{Type: field.ErrorTypeNotSupported, Field: "metadata.annotations[gantry.dev/isolation]", BadValue: "hami",
				Detail: `supported values: "none", "mps", "mig"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := share.ParseWithClaims(tt.pod.Obj())
			if tt.wantErr != nil {
				var invalid *share.InvalidRequestError
				require.True(t, errors.As(err, &invalid), "error %v is no *InvalidRequestError", err)
				if diff := cmp.Diff(tt.wantErr, invalid.Errs, cmp.Comparer(sameFieldError)); diff != "" {
					t.Errorf("errors (-want,+got):\n%s", diff)
				}
				return
			}
			require.NoError(t, err)
			tt.want.CPUMilli, tt.want.MemoryMiB = got.CPUMilli, got.MemoryMiB
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want,+got):\n%s", diff)
			}
			_, err = share.Parse(tt.pod.Obj())
			if len(tt.want.Parts) == 0 {
				require.Error(t, err, "Parse refuses what ParseWithClaims accepts for claims")
			}
		})
	}
}
