package report

import "github.com/gantry-dev/gantry/core/policy"

func engineType(s string) policy.Type { return policy.Type(s) }
