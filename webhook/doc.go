// Package webhook is Gantry's admission webhook: plain net/http handlers for
// admission.k8s.io/v1 AdmissionReview requests from kube-apiserver.
//
// Five paths serve pods:
//
//   - [PathMutate] sets spec.schedulerName to Gantry's profile on pods that
//     ask for gantry.dev/* resources but name no scheduler (the API server
//     defaults that to default-scheduler), so they are not silently placed by
//     a scheduler that knows nothing of shares.
//   - [PathTranslate] does the same for namespaces that opt in to migration
//     and first rewrites nvidia.com/gpu: N into gantry.dev/gpu-percent: N*100.
//   - [PathDRA], in namespaces labelled gantry.dev/mode=dra, replaces each
//     container's gantry.dev/<kind>-percent by a pod claim from Gantry's
//     ResourceClaimTemplate for the share (core/dra.ClaimTemplate: size,
//     models and isolation as CEL selectors), after checking the template
//     exists and asks exactly that (one get; a missing one is refused with
//     the command that creates it), and names the scheduler.
//   - [PathValidate] refuses a malformed share request with the very
//     field-path messages the scheduler gives (both call core/share), at
//     creation and when an update makes it malformed.
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
