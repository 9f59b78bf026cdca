package simulate

import (
	"fmt"

	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	kubeschedulerscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"

	"github.com/gantry-dev/gantry/scheduler/dra"
)

// DefaultProfile is the profile the simulations run: the filters a stock
// profile applies to a pod with no volumes or affinity between pods, and
// GantryDeviceShare as the only scorer, as in the FGD paper's simulator.
const DefaultProfile = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: gantry-scheduler
    percentageOfNodesToScore: 100
    plugins:
      multiPoint:
        enabled:
          - name: GantryDeviceShare
            weight: 1
    pluginConfig:
      - name: NodeResourcesFit
        args:
          # GantryDeviceShare owns gantry.dev resources card by card.
          ignoredResourceGroups: ["gantry.dev"]
`

// LoadProfile decodes a KubeSchedulerConfiguration (defaulted as
// kube-scheduler defaults it) and returns its first profile.
func LoadProfile(yaml string) (*config.KubeSchedulerProfile, error) {
	p, _, err := loadProfile(yaml)
	return p, err
}

// loadProfile is LoadProfile plus the percentage of nodes the profile
// scores: its own percentageOfNodesToScore, else the configuration's
// global one (0: kube-scheduler's adaptive default).
func loadProfile(yaml string) (*config.KubeSchedulerProfile, int32, error) {
	obj, _, err := kubeschedulerscheme.Codecs.UniversalDecoder().Decode([]byte(yaml), nil, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("decoding scheduler configuration: %w", err)
	}
	cfg, ok := obj.(*config.KubeSchedulerConfiguration)
	if !ok {
		return nil, 0, fmt.Errorf("want KubeSchedulerConfiguration, got %T", obj)
	}
	if len(cfg.Profiles) == 0 {
		return nil, 0, fmt.Errorf("scheduler configuration has no profiles")
	}
	p := &cfg.Profiles[0]
	var pct int32
	switch {
	case p.PercentageOfNodesToScore != nil:
		pct = *p.PercentageOfNodesToScore
	case cfg.PercentageOfNodesToScore != nil:
		pct = *cfg.PercentageOfNodesToScore
	}
	return p, pct, nil
}

// trimPlugins drops the plugins that cannot change where a pod with no
// volumes, ports, inter-pod affinity or topology spread constraints goes
// (scorers among them give every node the same score for such pods),
// but those named in keep.
func trimPlugins(p *config.KubeSchedulerProfile, keep ...string) {
	drop := map[string]bool{
		"VolumeBinding": true, "VolumeRestrictions": true, "VolumeZone": true, "NodeVolumeLimits": true,
		"EBSLimits": true, "GCEPDLimits": true, "AzureDiskLimits": true, "InterPodAffinity": true,
		"PodTopologySpread": true, "DynamicResources": true, "ImageLocality": true, "NodePorts": true,
		"DefaultPreemption": true, "SchedulingGates": true, "GangScheduling": true, "TopologyPlacement": true,
	}
	for _, k := range keep {
		delete(drop, k)
	}
	out := p.Plugins.MultiPoint.Enabled[:0]
	for _, pl := range p.Plugins.MultiPoint.Enabled {
		if !drop[pl.Name] {
			out = append(out, pl)
		}
	}
	p.Plugins.MultiPoint.Enabled = out
}

// Kube-scheduler's bounds on the feasible nodes it looks for
// (pkg/scheduler: minFeasibleNodesToFind, minFeasibleNodesPercentageToFind).
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// NodesToFind is how many feasible nodes kube-scheduler looks for in a
// cluster of all nodes before it stops filtering and scores what it found,
// for a percentageOfNodesToScore of pct (0: adaptive, 50 % less 1 % per 125
// nodes, at least 5 %); never fewer than 100 nodes.
func NodesToFind(pct int32, all int) int {
	if all < minFeasibleNodesToFind {
		return all
	}
	if pct == 0 {
		pct = max(50-int32(all/125), minFeasibleNodesPercentageToFind)
	}
	n := int(int64(all) * int64(pct) / 100)
	return max(n, minFeasibleNodesToFind)
}

// Trim keeps in a profile only the plugins that matter when pods carry no
// volumes, no inter-pod affinity and no topology spread constraints, and
// drops every scorer but keep. It makes large simulations fast without
// changing where such pods go.
func Trim(p *config.KubeSchedulerProfile, keep string) { trim(p, keep) }

// trim is Trim keeping more scorers (each with its profile weight), which
// have no PreScore (GantryDRA's scores are computed in PreFilter), nor has
// keep when it is a DRA plugin.
func trim(p *config.KubeSchedulerProfile, keep string, more ...string) {
	var only []config.Plugin
	names := []string{keep}
	for _, m := range more {
		if m != keep {
			names = append(names, m)
		}
	}
	for _, name := range names {
		weight := int32(1)
		for _, pl := range p.Plugins.MultiPoint.Enabled {
			if pl.Name == name && pl.Weight > 0 {
				weight = pl.Weight
			}
		}
		only = append(only, config.Plugin{Name: name, Weight: weight})
	}
	trimPlugins(p, names...)
	p.Plugins.PreScore = config.PluginSet{Enabled: only[:1:1], Disabled: []config.Plugin{{Name: "*"}}}
	if keep == dra.Name || keep == dynamicResources {
		p.Plugins.PreScore.Enabled = nil
	}
	p.Plugins.Score = config.PluginSet{Enabled: append([]config.Plugin(nil), only...), Disabled: []config.Plugin{{Name: "*"}}}
}

// enableDRA makes a profile run GantryDRA in place of DynamicResources
// (both would allocate every claim), as manifests/dra's profile does.
func enableDRA(p *config.KubeSchedulerProfile) {
	mp := &p.Plugins.MultiPoint
	has := false
	out := mp.Enabled[:0]
	for _, pl := range mp.Enabled {
		switch pl.Name {
		case dynamicResources:
			continue
		case dra.Name:
			has = true
		}
		out = append(out, pl)
	}
	mp.Enabled = out
	if !has {
		mp.Enabled = append(mp.Enabled, config.Plugin{Name: dra.Name, Weight: 1})
	}
	for _, pl := range mp.Disabled {
		if pl.Name == dynamicResources {
			return
		}
	}
	mp.Disabled = append(mp.Disabled, config.Plugin{Name: dynamicResources})
}

// disableDRA puts upstream's DynamicResources back in place of GantryDRA
// (which is that plugin with Gantry's device order) when the simulation has
// no DRA state to give GantryDRA: the shipped profile enables GantryDRA,
// and a device-plugin-mode simulation of it must still build.
func disableDRA(p *config.KubeSchedulerProfile) {
	mp := &p.Plugins.MultiPoint
	had := false
	out := mp.Enabled[:0]
	for _, pl := range mp.Enabled {
		if pl.Name == dra.Name {
			had = true
			continue
		}
		out = append(out, pl)
	}
	mp.Enabled = out
	if !had {
		return
	}
	keep := mp.Disabled[:0]
	for _, pl := range mp.Disabled {
		if pl.Name != dynamicResources {
			keep = append(keep, pl)
		}
	}
	mp.Disabled = keep
}

const dynamicResources = StockDRA

// StockDRA is the in-tree DynamicResources plugin's name.
const StockDRA = "DynamicResources"
