package dra

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"
)

// checkpointVersion is the version of the checkpoint file this code writes
// and reads.
const checkpointVersion = "v1"

// CheckpointFile is the checkpoint's name in the plugin data directory.
const CheckpointFile = "gantry-dra-checkpoint.json"

// preparedDevice is one allocation result the driver prepared.
type preparedDevice struct {
	Request string     `json:"request"`
	Pool    string     `json:"pool"`
	Device  string     `json:"device"`
	ShareID *types.UID `json:"shareID,omitempty"`
	// DeviceID is the card's UUID, Units the percent the claim holds.
	DeviceID string   `json:"deviceID"`
	Units    int      `json:"units"`
	CDI      []string `json:"cdi"`
}

// preparedClaim is what the driver prepared for one claim.
type preparedClaim struct {
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"`
	Devices   []preparedDevice `json:"devices"`
}

type checkpointWire struct {
	Version string                      `json:"version"`
	Claims  map[types.UID]preparedClaim `json:"claims"`
}

// loadCheckpoint reads the prepared claims from path; a missing file is an
// empty checkpoint.
func loadCheckpoint(path string) (map[types.UID]preparedClaim, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[types.UID]preparedClaim{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	var w checkpointWire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if w.Version != checkpointVersion {
		return nil, fmt.Errorf("checkpoint %s: version %q is not supported (want %q)", path, w.Version, checkpointVersion)
	}
	if w.Claims == nil {
		w.Claims = map[types.UID]preparedClaim{}
	}
	return w.Claims, nil
}

// saveCheckpoint replaces the checkpoint atomically: a crash leaves the old
// file or the new one, never half of one.
func saveCheckpoint(path string, claims map[types.UID]preparedClaim) error {
	b, err := json.Marshal(checkpointWire{Version: checkpointVersion, Claims: claims})
	if err != nil {
		return fmt.Errorf("encoding checkpoint: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	return nil
}
