package actors

import "github.com/latchid/latch/cluster"

// Client is how the HTTP edge reaches the grains: one method per grain request, each a
// thin Call with the caller's deadline. It holds no state beyond the node.
type Client struct {
	node *cluster.Node
}

// NewClient wraps a started cluster member.
func NewClient(n *cluster.Node) *Client { return &Client{node: n} }
