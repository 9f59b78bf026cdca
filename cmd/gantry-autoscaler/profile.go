package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/gantry-dev/gantry/core/contract"
)

// schedulerProfile reads gantry-scheduler's KubeSchedulerConfiguration and
// keeps only its gantry-scheduler profile, so that the autoscaler simulates
// with the very plugin arguments (policy, weights) the scheduler runs.
func schedulerProfile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading --scheduler-config: %w", err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("decoding --scheduler-config: %w", err)
	}
	profiles, _ := cfg["profiles"].([]any)
	for _, p := range profiles {
		if m, ok := p.(map[string]any); ok && m["schedulerName"] == contract.SchedulerName {
			cfg["profiles"] = []any{m}
			out, err := yaml.Marshal(cfg)
			return string(out), err
		}
	}
	return "", fmt.Errorf("--scheduler-config %s has no %s profile", path, contract.SchedulerName)
}
