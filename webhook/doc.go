// Package webhook is Gantry's admission webhook: plain net/http handlers for
// admission.k8s.io/v1 AdmissionReview requests from kube-apiserver.
//
// Four paths serve pods:
//
//   - [PathMutate] sets spec.schedulerName to Gantry's profile on pods that
//     ask for gantry.dev/* resources but name no scheduler (the API server
//     defaults that to default-scheduler), so they are not silently placed by
//     a scheduler that knows nothing of shares.
//   - [PathTranslate] does the same for namespaces that opt in to migration
//     and first rewrites nvidia.com/gpu: N into gantry.dev/gpu-percent: N*100.
//   - [PathValidate] refuses, at creation, a malformed share request with the
//     very field-path messages the scheduler gives (both call core/share).
//   - [PathAuthority] refuses any write of gantry.dev/allocation or
//     gantry.dev/allocated by an identity other than Gantry's own: the
//     scheduler may write the intent, the node agent the record of pods on
//     its own node (and remove an intent kubelet did not honour); nobody else
//     may set or change either.
//
// The webhook configurations in manifests/webhook scope every webhook with
// matchConditions, so kube-apiserver only calls it for pods that use Gantry
// (or that try to write its annotations): its outage never blocks any other
// pod. Serving certificates are managed by package [certs] unless cert-manager
// is configured.
package webhook
