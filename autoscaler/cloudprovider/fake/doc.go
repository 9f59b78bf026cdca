// Package fake is a CloudProvider for unit tests, built like Cluster
// Autoscaler's test provider: NewBuilder().WithGroup(...).WithOnScaleUp(...)
// .Build(). It records every call and keeps target sizes in memory.
package fake
