package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/test/manifest"
)

// applyFieldManager is the field manager of objects the harness applies.
const applyFieldManager = "gantry-harness"

// ReadManifests decodes every object of the multi-document YAML files at
// paths (relative paths are taken from the repository root, so a test names
// the shipped files: "manifests/deviceplugin/rbac.yaml"). Empty documents
// are skipped.
func ReadManifests(paths ...string) ([]*unstructured.Unstructured, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		objs, err := manifest.Decode(p, data)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// DecodeManifests decodes the objects of multi-document YAML (see
// manifest.Decode).
func DecodeManifests(data []byte) ([]*unstructured.Unstructured, error) {
	return manifest.Decode("manifest", data)
}

// Apply creates or updates objs by server-side apply as the admin, in order
// (put ServiceAccounts and Roles before what refers to them; the files in
// manifests/ are written that way).
func (cp *ControlPlane) Apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	return ApplyWith(ctx, cp.Config, objs...)
}

// ApplyFiles reads the files with [ReadManifests] and applies their objects.
func (cp *ControlPlane) ApplyFiles(ctx context.Context, paths ...string) error {
	objs, err := ReadManifests(paths...)
	if err != nil {
		return err
	}
	return cp.Apply(ctx, objs...)
}

// ApplyWith server-side applies objs with cfg's identity, with strict
// field validation, as `kubectl apply --server-side` does; namespaced
// objects that name no namespace go to "default".
func ApplyWith(ctx context.Context, cfg *rest.Config, objs ...*unstructured.Unstructured) error {
	a, err := manifest.NewApplier(cfg, applyFieldManager, metav1.NamespaceDefault)
	if err != nil {
		return err
	}
	return a.Apply(ctx, objs...)
}
