package handofftest

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func gpuResource() corev1.ResourceName { return corev1.ResourceName(gpuRes) }

func quantity(v int64) *resource.Quantity { return resource.NewQuantity(v, resource.DecimalSI) }
