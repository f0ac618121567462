// Command stocksys is the Stock-System command line: it runs nodes and reads
// and changes the cluster's state.
//
// Every command takes the connection flags below; each falls back to its
// environment variable, then to the default:
//
//	--zk         STOCKSYS_ZK         ZooKeeper servers, host:port[,host:port]  (127.0.0.1:2181)
//	--cluster    STOCKSYS_CLUSTER    cluster name; znodes live under /stocksys/<cluster>  (default)
//	--kafka      STOCKSYS_KAFKA      Kafka bootstrap brokers  (127.0.0.1:9092)
//	--cassandra  STOCKSYS_CASSANDRA  Cassandra contact points, host:port  (127.0.0.1:9042)
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// globals holds the connection settings shared by every command.
type globals struct {
	zk        string
	cluster   string
	kafka     string
	cassandra string
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "stocksys",
		Short:         "Stock-System: a coordination-first cluster for real-time market data",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.zk, "zk", envOr("STOCKSYS_ZK", "127.0.0.1:2181"), "ZooKeeper servers, host:port[,host:port] (env STOCKSYS_ZK)")
	pf.StringVar(&g.cluster, "cluster", envOr("STOCKSYS_CLUSTER", "default"), "cluster name (env STOCKSYS_CLUSTER)")
	pf.StringVar(&g.kafka, "kafka", envOr("STOCKSYS_KAFKA", "127.0.0.1:9092"), "Kafka bootstrap brokers (env STOCKSYS_KAFKA)")
	pf.StringVar(&g.cassandra, "cassandra", envOr("STOCKSYS_CASSANDRA", "127.0.0.1:9042"), "Cassandra contact points, host:port (env STOCKSYS_CASSANDRA)")

	root.AddCommand(
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "stocksys", version) },
		},
		newSmokeCmd(g),
		newStatusCmd(g),
		newSymbolsCmd(g),
	)
	return root
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "stocksys:", err)
		os.Exit(1)
	}
}
