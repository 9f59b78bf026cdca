package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-dev/gantry/core/device"
)

// InventoryVersion is the version of the inventory annotation this code writes
// and the only one it reads.
const InventoryVersion = "v1"

// ErrNoInventory is returned for a node that publishes no inventory.
var ErrNoInventory = errors.New("node has no " + AnnotationInventory + " annotation")

// InvalidInventoryError is returned for an inventory annotation that cannot be
// used. Callers branch on it to tell a broken node from a CPU-only one.
type InvalidInventoryError struct {
	Node   string
	Reason string
	Err    error
}

func (e *InvalidInventoryError) Error() string {
	msg := fmt.Sprintf("node %q: invalid %s annotation: %s", e.Node, AnnotationInventory, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *InvalidInventoryError) Unwrap() error { return e.Err }

type inventoryWire struct {
	Version string          `json:"version"`
	Devices []device.Device `json:"devices"`
}

// EncodeInventory returns the annotation value for inv.
func EncodeInventory(inv device.Inventory) (string, error) {
	if err := inv.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(inventoryWire{Version: InventoryVersion, Devices: inv.Sorted().Devices})
	if err != nil {
		return "", fmt.Errorf("encoding inventory: %w", err)
	}
	return string(b), nil
}

// DecodeInventory parses an inventory annotation value. Unknown fields are
// rejected so that a newer writer is never half-understood.
func DecodeInventory(nodeName, value string) (device.Inventory, error) {
	var w inventoryWire
	dec := json.NewDecoder(bytes.NewReader([]byte(value)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return device.Inventory{}, &InvalidInventoryError{Node: nodeName, Reason: "not valid JSON", Err: err}
	}
	if !atEOF(dec) {
		return device.Inventory{}, &InvalidInventoryError{Node: nodeName, Reason: "trailing data after the JSON object"}
	}
	if w.Version != InventoryVersion {
		return device.Inventory{}, &InvalidInventoryError{Node: nodeName, Reason: fmt.Sprintf("version %q is not supported (want %q)", w.Version, InventoryVersion)}
	}
	inv := device.Inventory{Devices: w.Devices}
	if err := inv.Validate(); err != nil {
		return device.Inventory{}, &InvalidInventoryError{Node: nodeName, Reason: "bad device", Err: err}
	}
	inv.Sort()
	return inv, nil
}

// atEOF reports whether dec has nothing but white space left. (Decoder.More
// is not enough: it reports false before a stray '}' or ']'.)
func atEOF(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err == io.EOF
}

// InventoryOf decodes the inventory published on node. It returns
// ErrNoInventory when the node publishes none.
func InventoryOf(node *corev1.Node) (device.Inventory, error) {
	v, ok := node.Annotations[AnnotationInventory]
	if !ok {
		return device.Inventory{}, ErrNoInventory
	}
	return DecodeInventory(node.Name, v)
}

// NodeLabels returns the labels a node with inv carries: model, count and
// accelerator kind. Kinds the node lacks get no labels.
func NodeLabels(inv device.Inventory) map[string]string {
	out := map[string]string{}
	var kinds []string
	for _, k := range device.Kinds {
		n := inv.Count(k)
		if n == 0 {
			continue
		}
		kinds = append(kinds, string(k))
		out[CountLabelFor(k)] = strconv.Itoa(n)
		models := inv.Models(k)
		if len(models) == 1 {
			out[ModelLabelFor(k)] = models[0]
		} else {
			out[ModelLabelFor(k)] = MixedModel
		}
	}
	if len(kinds) > 0 {
		out[LabelAccelerator] = strings.Join(kinds, "-")
	}
	return out
}

// Allocatable returns the extended resources a node with inv advertises:
// UnitsPerDevice per healthy device of each kind.
func Allocatable(inv device.Inventory) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, k := range device.Kinds {
		n := 0
		for _, d := range inv.Devices {
			if d.Kind == k && d.Healthy() {
				n++
			}
		}
		if inv.Count(k) > 0 {
			out[ResourceFor(k)] = *resource.NewQuantity(int64(n*device.UnitsPerDevice), resource.DecimalSI)
		}
	}
	return out
}

// Publish writes inv on node the way the device plugin publishes it: the
// inventory annotation, the model/count/kind labels, and the percent
// resources in allocatable and capacity. Template nodes (autoscaler) and
// simulated nodes are built with it, so they read exactly like real ones.
func Publish(node *corev1.Node, inv device.Inventory) error {
	v, err := EncodeInventory(inv)
	if err != nil {
		return err
	}
	if node.Annotations == nil {
		node.Annotations = map[string]string{}
	}
	node.Annotations[AnnotationInventory] = v
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	for k, val := range NodeLabels(inv) {
		node.Labels[k] = val
	}
	if node.Status.Allocatable == nil {
		node.Status.Allocatable = corev1.ResourceList{}
	}
	for k, q := range Allocatable(inv) {
		node.Status.Allocatable[k] = q
	}
	node.Status.Capacity = node.Status.Allocatable.DeepCopy()
	return nil
}
