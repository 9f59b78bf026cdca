package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/policy"
)

func TestPublishedResultCoversEveryTraceAndPolicy(t *testing.T) {
	require.Len(t, PublishedResults, len(PublishedTraces))
	for _, v := range PublishedTraces {
		for _, p := range PublishedPolicies {
			pub, ok := PublishedResult(v, p)
			require.True(t, ok, "%s %s", v, p)
			// Allocations are percentages and seed 42 is one of the ten seeds:
			// within a few standard deviations of their mean.
			assert.Greater(t, pub.Seed42, 70.0, "%s %s", v, p)
			assert.Less(t, pub.Seed42, 100.0, "%s %s", v, p)
			assert.InDelta(t, pub.Mean, pub.Seed42, 3*pub.Std+0.01, "%s %s", v, p)
		}
	}
	_, ok := PublishedResult("gpushare20", policy.FGD)
	assert.False(t, ok, "gpushare20 has no published results")
	_, ok = PublishedResult("default", policy.Binpack)
	assert.False(t, ok, "Binpack is not one of the reference's policies")
	fgd, _ := PublishedResult("multigpu20", policy.FGD)
	assert.Equal(t, Published{Seed42: 95.51, Mean: 95.65, Std: 0.15}, fgd)
}

func TestReportSetsSeed42AgainstThePublishedResult(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	meta := Meta{Trace: "openb", Nodes: 1, GPUs: 4, Pods: 3, Ratio: 1.3, Variant: "default"}
	rs := results()
	rs[0].Seed = 42 // FGD, 95.00 %
	require.NoError(t, WriteInflation(dir, meta, rs, Options{OmitTiming: true}))
	b, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	md := string(b)
	assert.Contains(t, md, "## Against the reference's published results (openb default, 130 %)")
	assert.Contains(t, md, "| FGD | 42 | 95.00 % | 95.29 % | -0.29 pp | 95.39 ± 0.08 % |")
	// Another seed is set against the spread only.
	assert.Contains(t, md, "| FGD | 1 | 94.00 % |  |  | 95.39 ± 0.08 % |")
	assert.Contains(t, md, "| BestFit | 1 | 90.00 % |  |  | 93.08 ± 0.13 % |")

	// No comparison for another ratio or an unpublished input.
	for _, m := range []Meta{{Trace: "x", Ratio: 1.2, Variant: "default"}, {Trace: "x", Ratio: 1.3}, {Trace: "x", Ratio: 1.3, Variant: "gpushare20"}} {
		dir := filepath.Join(t.TempDir(), "o")
		require.NoError(t, WriteInflation(dir, m, results(), Options{OmitTiming: true}))
		b, err := os.ReadFile(filepath.Join(dir, "report.md"))
		require.NoError(t, err)
		assert.False(t, strings.Contains(string(b), "published results"), "%+v", m)
	}
}
