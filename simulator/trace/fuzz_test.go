package trace

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzReadPods checks that no input makes ReadPods panic, and that it either returns valid, uniquely
// named pods and no error, or no pods and a *ParseErrors.
func FuzzReadPods(f *testing.F) {
	f.Add(podHeader + "openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061\n")
	f.Add("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nopenb-pod-9060,16200,66560,2,1000\n")
	f.Add("gpu_milli,num_gpu,name,cpu_milli,memory_mib,gpu_spec\n500,1,p,1,1,T4|V100M16\n")
	f.Add(podHeader + "p,-5,1,1,1500,A||A,LS,Running,x,,\"\n")
	f.Add(podHeader + "p,8000,4096,1,500,V100M16|V100M32|V100M32,LS,Running,0,10,\n")
	f.Add(podHeader + "p,8000,4096,1,500,|T4||,LS,Running,0,10,\n")
	f.Add("name,name\n")
	f.Add("\ufeffname,cpu_milli,memory_mib,num_gpu,gpu_milli\r\n\"p\"\"q\",1,2,1,50\r\n")
	f.Add("")
	if head, err := os.ReadFile(filepath.Join(shippedDir, PodListFile(DefaultVariant))); err == nil {
		f.Add(string(head[:2000])) // the first rows, cut mid-row
	}
	f.Fuzz(func(t *testing.T, input string) {
		pods, norm, err := ReadPods(strings.NewReader(input), "fuzz.csv")
		if err != nil {
			var list *ParseErrors
			if !errors.As(err, &list) || list.Len() == 0 {
				t.Fatalf("error is not a non-empty *ParseErrors: %v", err)
			}
			if pods != nil || norm != nil {
				t.Fatalf("partial data with an error: %d pods, %v", len(pods), norm)
			}
			return
		}
		if err := (Trace{Pods: pods}).Validate(); err != nil {
			t.Fatalf("accepted invalid pods: %v", err)
		}
		// A kind is counted once per repaired row at most.
		for k, c := range norm {
			if c < 1 || c > len(pods) {
				t.Fatalf("%q counted %d times for %d pods", k, c, len(pods))
			}
		}
	})
}

// FuzzReadGantry checks that no input makes ReadGantry panic, and that whatever it accepts is valid and
// survives WriteGantry + ReadGantry unchanged.
func FuzzReadGantry(f *testing.F) {
	if example, err := os.ReadFile("testdata/gantry/example.yaml"); err == nil {
		f.Add(string(example))
	}
	f.Add(gantryHead + "pods:\n- {name: a, numGPU: 1, gpuMilli: 500, gpuSpec: [T4]}\n")
	f.Add(gantryHead + "nodes:\n- &n {name: n, gpus: 0}\n- *n\n")
	f.Add(`{"apiVersion": "gantry.dev/v1alpha1", "kind": "Trace", "pods": [{"name": "p", "creationTime": 1, "deletionTime": 2}]}`)
	f.Add(gantryHead + "gpuModels: [T4, T4]\n---\n")
	f.Fuzz(func(t *testing.T, input string) {
		tr, err := ReadGantry(strings.NewReader(input), "fuzz.yaml")
		if err != nil {
			var list *ParseErrors
			if !errors.As(err, &list) || list.Len() == 0 {
				t.Fatalf("error is not a non-empty *ParseErrors: %v", err)
			}
			return
		}
		if err := tr.Validate(); err != nil {
			t.Fatalf("accepted an invalid trace: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteGantry(&buf, tr); err != nil {
			return // e.g. invalid UTF-8 that YAML let through
		}
		back, err := ReadGantry(&buf, "rewritten.yaml")
		if err != nil {
			t.Fatalf("cannot read back what WriteGantry wrote: %v\n%s", err, buf.String())
		}
		if diff := cmp.Diff(tr, back); diff != "" {
			t.Fatalf("round trip (-want,+got):\n%s", diff)
		}
	})
}
