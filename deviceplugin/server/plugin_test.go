package server_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/server"
)

// fakeKubelet is kubelet's registration service: on Register it dials the
// plugin back and follows ListAndWatch, as kubelet does.
type fakeKubelet struct {
	pluginapi.UnimplementedRegistrationServer
	dir  string
	srv  *grpc.Server
	regs chan *pluginapi.RegisterRequest

	mu      sync.Mutex
	lists   [][]*pluginapi.Device
	clients []pluginapi.DevicePluginClient
	conns   []*grpc.ClientConn
	updated chan struct{}
}

func startKubelet(t *testing.T, dir string) *fakeKubelet {
	t.Helper()
	k := &fakeKubelet{dir: dir, regs: make(chan *pluginapi.RegisterRequest, 8), updated: make(chan struct{}, 64)}
	lis, err := net.Listen("unix", filepath.Join(dir, "kubelet.sock"))
	require.NoError(t, err)
	k.srv = grpc.NewServer()
	pluginapi.RegisterRegistrationServer(k.srv, k)
	go func() { _ = k.srv.Serve(lis) }()
	return k
}

// stop stops kubelet and, like a restarting kubelet, wipes the sockets in
// its directory.
func (k *fakeKubelet) stop() {
	k.srv.Stop()
	k.mu.Lock()
	for _, c := range k.conns {
		_ = c.Close()
	}
	k.mu.Unlock()
	entries, _ := os.ReadDir(k.dir)
	for _, e := range entries {
		_ = os.Remove(filepath.Join(k.dir, e.Name()))
	}
}

func (k *fakeKubelet) Register(ctx context.Context, r *pluginapi.RegisterRequest) (*pluginapi.Empty, error) {
	conn, err := grpc.NewClient("unix://"+filepath.Join(k.dir, r.Endpoint), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	client := pluginapi.NewDevicePluginClient(conn)
	stream, err := client.ListAndWatch(context.Background(), &pluginapi.Empty{})
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.clients = append(k.clients, client)
	k.conns = append(k.conns, conn)
	k.mu.Unlock()
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			k.mu.Lock()
			k.lists = append(k.lists, resp.Devices)
			k.mu.Unlock()
			k.updated <- struct{}{}
		}
	}()
	k.regs <- r
	return &pluginapi.Empty{}, nil
}

func (k *fakeKubelet) client() pluginapi.DevicePluginClient {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.clients[len(k.clients)-1]
}

func (k *fakeKubelet) last() []*pluginapi.Device {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lists[len(k.lists)-1]
}

func wait[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
		var zero T
		return zero
	}
}

func healthCounts(devs []*pluginapi.Device) (healthy, unhealthy int) {
	for _, d := range devs {
		if d.Health == pluginapi.Healthy {
			healthy++
		} else {
			unhealthy++
		}
	}
	return
}

func TestPluginLifecycle(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("k8s.io/klog/v2.(*loggingT).flushDaemon"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"))
	dir := t.TempDir()
	devs := newDevices(gpus(8))
	p, err := server.New(server.Config{Kind: device.GPU, Devices: devs, SocketDir: dir,
		KubeletSocket: filepath.Join(dir, "kubelet.sock"), WatchInterval: 10 * time.Millisecond})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()

	k := startKubelet(t, dir)
	reg := wait(t, k.regs)
	require.Equal(t, "gantry.dev/gpu-percent", reg.ResourceName)
	require.Equal(t, "gantry-gpu.sock", reg.Endpoint)
	require.Equal(t, pluginapi.Version, reg.Version)
	require.True(t, reg.Options.GetPreferredAllocationAvailable)
	wait(t, k.updated)
	h, u := healthCounts(k.last())
	require.Equal(t, [2]int{800, 0}, [2]int{h, u})
	require.Equal(t, int64(0), k.last()[0].Topology.Nodes[0].ID)

	// Health goes down and back up, and kubelet hears both.
	devs.setHealth(3, device.Unhealthy)
	wait(t, k.updated)
	h, u = healthCounts(k.last())
	require.Equal(t, [2]int{700, 100}, [2]int{h, u})
	devs.setHealth(3, device.Healthy)
	wait(t, k.updated)
	h, _ = healthCounts(k.last())
	require.Equal(t, 800, h)

	// Bad input gets a specific error, and the server keeps serving.
	_, err = k.client().Allocate(ctx, &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: []string{"GPU-1::0", "garbage"}}}})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Contains(t, err.Error(), `slot id "garbage": missing "::" separator`)
	resp, err := k.client().Allocate(ctx, &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: slots(1, 0, 10)}}})
	require.NoError(t, err)
	require.Equal(t, "GPU-1", resp.ContainerResponses[0].Envs["NVIDIA_VISIBLE_DEVICES"])

	// Kubelet restarts: its socket is recreated and ours is wiped. The
	// plugin serves again and registers again.
	k.stop()
	k = startKubelet(t, dir)
	reg = wait(t, k.regs)
	require.Equal(t, "gantry.dev/gpu-percent", reg.ResourceName)
	wait(t, k.updated)
	h, _ = healthCounts(k.last())
	require.Equal(t, 800, h)

	cancel()
	require.NoError(t, wait(t, done))
	_, err = os.Stat(p.SocketPath())
	require.ErrorIs(t, err, os.ErrNotExist, "the plugin removes its socket on the way out")
	k.stop()
}

func TestPluginConcurrentCalls(t *testing.T) {
	inv := gpus(8)
	pods := lister(podWith("p", 1, [][2]int{{2, 10}}))
	p, err := server.New(server.Config{Kind: device.GPU, Devices: newDevices(inv),
		Steerer: server.NewSteerer(server.SteererConfig{Node: node, Kind: device.GPU, Pods: pods})})
	require.NoError(t, err)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				pr, err := p.GetPreferredAllocation(ctx, &pluginapi.PreferredAllocationRequest{ContainerRequests: []*pluginapi.ContainerPreferredAllocationRequest{
					{AvailableDeviceIDs: allSlots(inv), AllocationSize: 10}, {AvailableDeviceIDs: allSlots(inv), AllocationSize: 10},
				}})
				if !assertNoErr(t, err) {
					return
				}
				first, second := pr.ContainerResponses[0].DeviceIDs, pr.ContainerResponses[1].DeviceIDs
				seen := map[string]bool{}
				for _, id := range append(append([]string(nil), first...), second...) {
					if seen[id] {
						t.Errorf("slot %s proposed twice in one answer", id)
					}
					seen[id] = true
				}
				_, err = p.Allocate(ctx, &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: first}}})
				assertNoErr(t, err)
			}
		}()
	}
	wg.Wait()
}

func assertNoErr(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}
