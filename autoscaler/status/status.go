package status

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// Status is one loop's view.
type Status struct {
	Time              time.Time     `json:"time"`
	NodeGroups        []GroupStatus `json:"nodeGroups"`
	UnschedulablePods int           `json:"unschedulablePods"`
	UnneededNodes     []string      `json:"unneededNodes,omitempty"`
	LastScaleUp       time.Time     `json:"lastScaleUp,omitempty"`
	LastScaleDown     time.Time     `json:"lastScaleDown,omitempty"`
}

// GroupStatus is one node group's view.
type GroupStatus struct {
	Name           string     `json:"name"`
	Target         int        `json:"target"`
	Registered     int        `json:"registered"`
	Ready          int        `json:"ready"`
	Upcoming       int        `json:"upcoming"`
	MinSize        int        `json:"minSize"`
	MaxSize        int        `json:"maxSize"`
	BackedOffUntil *time.Time `json:"backedOffUntil,omitempty"`
}

// Writer publishes a Status.
type Writer interface {
	Write(ctx context.Context, s Status) error
}

// ConfigMapWriter writes the status as YAML under key "status".
type ConfigMapWriter struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
}

// Write implements Writer. The manifests ship the ConfigMap and the
// autoscaler's Role may only get and update that name; when it is missing,
// Write tries to create it and, refused, says which object to install.
func (w *ConfigMapWriter) Write(ctx context.Context, s Status) error {
	b, err := yaml.Marshal(s)
	if err != nil {
		return err
	}
	cms := w.Client.CoreV1().ConfigMaps(w.Namespace)
	cm, err := cms.Get(ctx, w.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace}, Data: map[string]string{"status": string(b)}}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsForbidden(err) {
			return fmt.Errorf("status ConfigMap %s/%s is missing and the autoscaler may not create it (install it with the manifests, or set --status-configmap to the one installed): %w", w.Namespace, w.Name, err)
		}
		return wrap(err)
	}
	if err != nil {
		return wrap(err)
	}
	cm = cm.DeepCopy()
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data["status"] = string(b)
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return wrap(err)
}

func wrap(err error) error {
	if err != nil {
		return fmt.Errorf("writing status ConfigMap: %w", err)
	}
	return nil
}

// Memory keeps the last status written (tests, simulator).
type Memory struct{ Last Status }

// Write implements Writer.
func (m *Memory) Write(_ context.Context, s Status) error {
	m.Last = s
	return nil
}
