package podresources

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// DefaultSocket is where kubelet serves the PodResources API.
const DefaultSocket = "/var/lib/kubelet/pod-resources/kubelet.sock"

// maxMessageSize bounds a List answer; kubelet's own client uses 16 MiB.
const maxMessageSize = 16 << 20

// Lister is the part of the PodResources API the agent uses.
type Lister interface {
	List(ctx context.Context) (*podresourcesv1.ListPodResourcesResponse, error)
}

// DefaultTimeout bounds a List call when Dial is given none.
const DefaultTimeout = 5 * time.Second

// Client is a Lister over kubelet's socket.
type Client struct {
	conn    *grpc.ClientConn
	api     podresourcesv1.PodResourcesListerClient
	timeout time.Duration
}

// Dial returns a client of the PodResources API at socket whose calls each
// end after timeout (DefaultTimeout when 0). It does not connect until the
// first call, so kubelet may start later.
func Dial(socket string, timeout time.Duration) (*Client, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	conn, err := grpc.NewClient("unix://"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize)))
	if err != nil {
		return nil, fmt.Errorf("pod resources client for %s: %w", socket, err)
	}
	return &Client{conn: conn, api: podresourcesv1.NewPodResourcesListerClient(conn), timeout: timeout}, nil
}

// List implements Lister.
func (c *Client) List(ctx context.Context) (*podresourcesv1.ListPodResourcesResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.api.List(ctx, &podresourcesv1.ListPodResourcesRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing kubelet pod resources: %w", err)
	}
	return resp, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
