package playground

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/controller-manager/pkg/informerfactory"
	"k8s.io/kubernetes/pkg/controller/deployment"
	"k8s.io/kubernetes/pkg/controller/garbagecollector"
	"k8s.io/kubernetes/pkg/controller/replicaset"

	"github.com/gantry-dev/gantry/test/harness"
)

// gcSyncPeriod is how often the garbage collector re-reads the API
// server's resources (kube-controller-manager: 30s).
const gcSyncPeriod = 30 * time.Second

// runWorkloadControllers runs, in-process, the parts of
// kube-controller-manager the examples need: the Deployment and ReplicaSet
// controllers, so that Deployments get pods, and the garbage collector, so
// that deleting a Deployment deletes its ReplicaSets and their pods (and
// deleting any owner its dependents). Pod GC is left out: it links
// kubelet's container-manager packages (cadvisor, containerd clients), and
// nothing here orphans pods, since gantry-autoscaler drains a node before
// it deletes it.
func runWorkloadControllers(ctx context.Context, cp *harness.ControlPlane) error {
	factory := informers.NewSharedInformerFactory(cp.Client, 0)
	dc, err := deployment.NewDeploymentController(ctx, factory.Apps().V1().Deployments(), factory.Apps().V1().ReplicaSets(),
		factory.Core().V1().Pods(), cp.Client)
	if err != nil {
		return fmt.Errorf("deployment controller: %w", err)
	}
	rsc := replicaset.NewReplicaSetController(ctx, factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), cp.Client, replicaset.BurstReplicas)
	gc, resetMapper, err := newGarbageCollector(ctx, cp, factory)
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	go dc.Run(ctx, 2)
	go rsc.Run(ctx, 2)
	// As kube-controller-manager does: the collector's workers, and a loop
	// that refreshes the resources it watches from discovery.
	go wait.UntilWithContext(ctx, func(context.Context) { resetMapper() }, gcSyncPeriod)
	go gc.Run(ctx, 2, gcSyncPeriod)
	go gc.Sync(ctx, cp.Client.Discovery(), gcSyncPeriod)
	return nil
}

// newGarbageCollector builds the garbage collector over a metadata client
// and a REST mapper from cached discovery; resetMapper makes the mapper read
// discovery again.
func newGarbageCollector(ctx context.Context, cp *harness.ControlPlane, factory informers.SharedInformerFactory) (gc *garbagecollector.GarbageCollector, resetMapper func(), err error) {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cp.Client.Discovery()))
	mapper.Reset()
	md, err := metadata.NewForConfig(rest.CopyConfig(cp.Config))
	if err != nil {
		return nil, nil, fmt.Errorf("garbage collector: metadata client: %w", err)
	}
	// The controllers above are constructed before the collector: its
	// informers may start at once.
	started := make(chan struct{})
	close(started)
	gc, err = garbagecollector.NewGarbageCollector(ctx, cp.Client, md, mapper, garbagecollector.DefaultIgnoredResources(),
		informerfactory.NewInformerFactory(factory, metadatainformer.NewSharedInformerFactory(md, 0)), started)
	if err != nil {
		return nil, nil, fmt.Errorf("garbage collector: %w", err)
	}
	return gc, mapper.Reset, nil
}
