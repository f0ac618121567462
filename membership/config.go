package membership

import (
	"fmt"

	"github.com/stock-system/stocksys/session"
	"go.uber.org/zap"
)

// Config configures a Member.
type Config struct {
	// Session configures the sessions Run opens (a new one after each expiry).
	Session session.Config
	// Cluster names the cluster; the default root is /stocksys/<Cluster>.
	// Default "default".
	Cluster string
	// Root is the znode under which members/ lives. Default
	// "/stocksys/" + Cluster.
	Root string
	// NodeID is this node's id, the name of its members/ znode. Required;
	// see session.ValidateNodeID.
	NodeID string
	// Addr is where this node serves (host:port). Also how a restarted node
	// recognises the registration of its previous, crashed incarnation: a
	// members/<id> znode of another session with the same non-empty Addr is
	// waited out (it disappears when that session expires) rather than
	// refused as a duplicate. Nodes that share an id must not share an Addr.
	Addr string
	// Version is this node's software version, published as is. Optional.
	Version string
	// Capacity is what this node offers (e.g. task slots), published; change
	// it with Member.SetCapacity. Default 0.
	Capacity int
	// Logger receives structured logs; nil means zap.NewNop().
	Logger *zap.Logger
}

// DefaultConfig returns a Config for nodeID in the default cluster, with
// session defaults for servers.
func DefaultConfig(nodeID string, servers ...string) Config {
	return Config{Session: session.DefaultConfig(servers...), Cluster: "default", NodeID: nodeID}
}

// Validate checks the config without touching ZooKeeper. Errors wrap
// ErrInvalidConfig, and session.ErrInvalidNodeID for a bad node id.
func (c Config) Validate() error {
	if err := session.ValidateNodeID(c.NodeID); err != nil {
		return fmt.Errorf("%w: node id: %w", ErrInvalidConfig, err)
	}
	if c.Cluster != "" {
		if err := session.ValidateNodeID(c.Cluster); err != nil {
			return fmt.Errorf("%w: cluster: %w", ErrInvalidConfig, err)
		}
	}
	if err := validRoot(c.Root); err != nil {
		return err
	}
	if c.Capacity < 0 {
		return fmt.Errorf("%w: capacity %d is negative", ErrInvalidConfig, c.Capacity)
	}
	if err := c.Session.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func validRoot(root string) error {
	if root == "" {
		return nil
	}
	if err := session.ValidateRoot(root); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Cluster == "" {
		c.Cluster = "default"
	}
	if c.Root == "" {
		c.Root = "/stocksys/" + c.Cluster
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Session.Logger == nil {
		c.Session.Logger = c.Logger
	}
	return c
}
