package webhook

import (
	"fmt"
	"slices"

	resourceclient "k8s.io/client-go/kubernetes/typed/resource/v1"

	"github.com/gantry-dev/gantry/core/contract"
)

// Paths the handler serves.
const (
	PathMutate    = "/mutate-pods"
	PathTranslate = "/translate-pods"
	PathValidate  = "/validate-pods"
	PathAuthority = "/validate-allocation-writers"
	PathDRA       = "/dra-pods"
)

// ResourceNVIDIAGPU is the NVIDIA device plugin's resource, translated for
// namespaces that opt in.
const ResourceNVIDIAGPU = "nvidia.com/gpu"

// ExtraNodeName is the user-info extra key that kube-apiserver fills from a
// pod-bound service-account token's node claim.
const ExtraNodeName = "authentication.kubernetes.io/node-name"

// Config says who Gantry is and what the mutation writes.
type Config struct {
	// SchedulerName is set on pods that ask for Gantry devices (default
	// contract.SchedulerName).
	SchedulerName string
	// SchedulerUsers may write gantry.dev/allocation (the scheduler's
	// service account, e.g. system:serviceaccount:kube-system:gantry-scheduler).
	SchedulerUsers []string
	// AgentUsers may write gantry.dev/allocated, and remove
	// gantry.dev/allocation, on pods bound to the node named by their token's
	// node claim (the node agent's service account).
	AgentUsers []string
	// ClaimTemplates reads the ResourceClaimTemplates that [PathDRA]
	// references (get only). Without it every DRA-mode pod that asks a
	// share is refused with a 500 saying so.
	ClaimTemplates resourceclient.ResourceClaimTemplatesGetter
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.SchedulerName == "" {
		c.SchedulerName = contract.SchedulerName
	}
	if len(c.SchedulerUsers) == 0 {
		return fmt.Errorf("no scheduler identity: name the user gantry-scheduler runs as")
	}
	if len(c.AgentUsers) == 0 {
		return fmt.Errorf("no node agent identity: name the user gantry-device-plugin runs as")
	}
	for _, u := range c.AgentUsers {
		if slices.Contains(c.SchedulerUsers, u) {
			return fmt.Errorf("user %q is named both the scheduler and the node agent", u)
		}
	}
	return nil
}
