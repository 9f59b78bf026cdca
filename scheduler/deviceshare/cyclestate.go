package deviceshare

import (
	"fmt"

	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/share"
)

const (
	preFilterStateKey fwk.StateKey = "PreFilter" + Name
	preScoreStateKey  fwk.StateKey = "PreScore" + Name
	reserveStateKey   fwk.StateKey = "Reserve" + Name
)

// preFilterState is the parsed request, computed once per cycle.
type preFilterState struct {
	req *share.Request
	// key identifies the request's shape for memoised scores.
	key string
}

// Clone returns the state itself: it is never changed after PreFilter.
func (s *preFilterState) Clone() fwk.StateData { return s }

func getPreFilterState(cs fwk.CycleState) (*preFilterState, error) {
	d, err := cs.Read(preFilterStateKey)
	if err != nil {
		return nil, fmt.Errorf("reading %q from cycle state: %w", preFilterStateKey, err)
	}
	s, ok := d.(*preFilterState)
	if !ok {
		return nil, fmt.Errorf("%+v convert to deviceshare.preFilterState error, got %T", d, d)
	}
	return s, nil
}

// preScoreState holds the zone-spread score of each zone for this pod.
type preScoreState struct {
	zoneScore map[string]int64
}

func (s *preScoreState) Clone() fwk.StateData { return s }

// reserveState holds the devices Reserve chose.
type reserveState struct {
	alloc contract.Allocation
}

func (s *reserveState) Clone() fwk.StateData { return s }
