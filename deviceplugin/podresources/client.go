package podresources

import (
	"context"
	"fmt"

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

// Client is a Lister over kubelet's socket.
type Client struct {
	conn *grpc.ClientConn
	api  podresourcesv1.PodResourcesListerClient
}

// Dial returns a client of the PodResources API at socket. It does not
// connect until the first call, so kubelet may start later.
func Dial(socket string) (*Client, error) {
	conn, err := grpc.NewClient("unix://"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize)))
	if err != nil {
		return nil, fmt.Errorf("pod resources client for %s: %w", socket, err)
	}
	return &Client{conn: conn, api: podresourcesv1.NewPodResourcesListerClient(conn)}, nil
}

// List implements Lister.
func (c *Client) List(ctx context.Context) (*podresourcesv1.ListPodResourcesResponse, error) {
	resp, err := c.api.List(ctx, &podresourcesv1.ListPodResourcesRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing kubelet pod resources: %w", err)
	}
	return resp, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
