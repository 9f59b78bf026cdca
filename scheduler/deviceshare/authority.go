package deviceshare

import (
	"slices"
	"sync"

	"github.com/gantry-dev/gantry/core/contract"
)

// profiles holds the names of every scheduler profile in this process that
// runs the plugin: a pod placed by any of them shares the nodes' devices with
// the others, so each profile's accounting counts the intents of all of them
// (and only theirs; see contract.Authority).
var profiles = &profileSet{}

type profileSet struct {
	mu    sync.RWMutex
	names []string
}

func (s *profileSet) add(name string) {
	if name == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.names, name) {
		s.names = append(s.names, name)
	}
}

// authority returns the accounting authority for the profiles known now.
func (s *profileSet) authority() contract.Authority {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return contract.Authority{Profiles: slices.Clone(s.names)}
}
