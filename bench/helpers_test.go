package bench

import "github.com/gantry-dev/gantry/core/policy"

func policyType(s string) policy.Type { return policy.Type(s) }

func shape(units int) policy.Shape {
	return policy.Shape{Count: 1, Units: units, CPUMilli: 1000, Weight: 1}
}
