// Package cdi writes the Container Device Interface specs through which the
// node agent (and the DRA driver) hand devices to containers, and names the
// CDI devices a container gets for its shares. The container runtime injects
// exactly those devices, so no environment variable a pod sets can select
// another card.
package cdi
