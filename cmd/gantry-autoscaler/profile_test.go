package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/kubernetes/pkg/scheduler/metrics"

	"github.com/gantry-dev/gantry/scheduler/simulate"
)

func TestSchedulerProfileFromTheSchedulerManifest(t *testing.T) {
	// The manifest embeds the configuration in a ConfigMap; the repo's
	// scheduler-config.yaml is the file itself.
	p, err := schedulerProfile("../../manifests/scheduler/scheduler-config.yaml")
	require.NoError(t, err)
	metrics.Register()
	s, err := simulate.NewScheduler(context.Background(), simulate.NewCluster(), simulate.Options{Profile: p})
	require.NoError(t, err)
	assert.NotNil(t, s.Plugin())
	_, err = schedulerProfile("profile.go")
	assert.Error(t, err)
}
