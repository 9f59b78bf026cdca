// Package manifest decodes multi-document YAML into objects and applies
// them to an API server the way `kubectl apply --server-side` and
// `helm install` do: server-side apply, strict field validation, the
// default namespace filled in for namespaced kinds, and an optional
// server-side dry run.
package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Decode returns every object of multi-document YAML or JSON; empty
// documents are skipped, and a document without apiVersion or kind is an
// error naming its position.
func Decode(source string, data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for i := 0; ; i++ {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("%s: document %d has no apiVersion or kind", source, i)
		}
		out = append(out, u)
	}
}

// ReadDir decodes the *.yaml, *.yml and *.json files directly in dir (not
// its subdirectories), in name order, as `kubectl apply -f dir` reads them.
func ReadDir(dir string) ([]*unstructured.Unstructured, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []*unstructured.Unstructured
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		objs, err := Decode(filepath.Join(dir, n), data)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// Applier server-side applies objects.
type Applier struct {
	// FieldManager names the applier in managedFields ("kubectl", "helm").
	FieldManager string
	// Namespace is given to namespaced objects that name none.
	Namespace string
	// DryRun asks the API server to run admission and validation and to
	// persist nothing.
	DryRun bool

	mapper *restmapper.DeferredDiscoveryRESTMapper
	dyn    dynamic.Interface
}

// NewApplier returns an applier for cfg's API server and identity.
func NewApplier(cfg *rest.Config, fieldManager, namespace string) (*Applier, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Applier{FieldManager: fieldManager, Namespace: namespace,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), dyn: dyn}, nil
}

func (a *Applier) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: the API server does not serve this kind: %w", gvk, obj.GetName(), err)
	}
	if m.Scope.Name() != "namespace" {
		return a.dyn.Resource(m.Resource), nil
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(a.Namespace)
	}
	return a.dyn.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
}

// Apply applies each object in order and stops at the first the API server
// refuses.
func (a *Applier) Apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	for _, obj := range objs {
		ri, err := a.resource(obj)
		if err != nil {
			return err
		}
		data, err := obj.MarshalJSON()
		if err != nil {
			return err
		}
		force := true
		opts := metav1.PatchOptions{FieldManager: a.FieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict}
		if a.DryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts); err != nil {
			return fmt.Errorf("%s refused: %w", Key(obj), err)
		}
	}
	return nil
}

// Delete deletes each object as kubectl delete -f does: dependents (a
// Deployment's ReplicaSets and pods) are left to the garbage collector
// (background propagation); an object already gone is not an error.
func (a *Applier) Delete(ctx context.Context, objs ...*unstructured.Unstructured) error {
	background := metav1.DeletePropagationBackground
	for _, obj := range objs {
		ri, err := a.resource(obj)
		if err != nil {
			return err
		}
		err = ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{PropagationPolicy: &background})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s: %w", Key(obj), err)
		}
	}
	return nil
}

// Existing returns the keys of the objects the API server holds, sorted.
func (a *Applier) Existing(ctx context.Context, objs ...*unstructured.Unstructured) ([]string, error) {
	var out []string
	for _, obj := range objs {
		ri, err := a.resource(obj)
		if err != nil {
			return nil, err
		}
		_, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		switch {
		case err == nil:
			out = append(out, Key(obj))
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("get %s: %w", Key(obj), err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Key is "Kind namespace/name", or "Kind name" for cluster-scoped objects.
func Key(obj *unstructured.Unstructured) string {
	return strings.TrimSpace(obj.GetKind() + " " + strings.TrimPrefix(obj.GetNamespace()+"/"+obj.GetName(), "/"))
}
