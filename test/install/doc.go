// Package install checks that what a user installs is accepted by a real
// kube-apiserver: every kustomize base under manifests/ (built with
// kustomize itself) is applied, and the Helm chart, rendered as
// `helm install` renders it, is applied with server-side dry-run before,
// both with strict field validation.
package install
