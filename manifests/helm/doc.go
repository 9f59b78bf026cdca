// Package helm holds the tests of the Gantry Helm chart in gantry/: the
// chart is loaded and rendered with Helm's own Go API, every object is
// decoded with client-go's scheme, the scheduler's configuration with
// kube-scheduler's and Gantry's schemes, and the result is compared with the
// kustomize manifests in manifests/scheduler, manifests/deviceplugin and
// manifests/autoscaler.
//
// Install the chart with
//
//	helm install gantry manifests/helm/gantry --namespace kube-system
package helm
