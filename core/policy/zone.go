package policy

// ZoneSpreadScore scores a node for a replica of a workload from how many
// replicas its zone already has (count) against the most any candidate zone
// has (maxCount): the emptiest zones score MaxScore, the fullest 0. Counts
// outside 0..maxCount are clamped.
func ZoneSpreadScore(count, maxCount int) int64 {
	if maxCount <= 0 {
		return MaxScore
	}
	count = min(max(count, 0), maxCount)
	return int64(MaxScore * (maxCount - count) / maxCount)
}

// Blend mixes a packing score with a zone-spread score. weight (0..100) is
// the zone spread's part: 0 ignores zones, 100 ignores packing. At the
// default of 70, a node in an emptier zone always beats a node in a fuller
// one when the packing scores differ by less than 70·(zone gap)/30, so
// replicas spread across zones while shares still pack within a zone.
//
// A weight outside 0..100 is clamped.
func Blend(packing, zone int64, weight int32) int64 {
	w := int64(min(max(weight, 0), 100))
	return ((100-w)*packing + w*zone) / 100
}
