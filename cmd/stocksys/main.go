// Command stocksys is the Stock-System command line: it runs nodes and reads
// and changes the cluster's state.
//
// Every flag can also come from its environment variable (STOCKSYS_ and the
// flag name upper-cased, '-' as '_') or from a YAML config file (--config or
// STOCKSYS_CONFIG; keys are flag names), in that order of precedence: flags,
// then environment, then config file, then defaults. The connection flags:
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
	// zkAuthFile and zkReadAuthFile hold digest identities (user:password,
	// zkapi.ReadCredentials): the one this process authenticates as, and
	// the cluster's read-only one (only to name it in the ACL).
	zkAuthFile, zkReadAuthFile string
	// Kafka and Cassandra TLS and logins (tlsFlags, secure.go).
	kafkaTLS, cassandraTLS             bool
	kafkaCAFile, kafkaAuthFile         string
	cassandraCAFile, cassandraAuthFile string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "stocksys",
		Short:         "Stock-System: a coordination-first cluster for real-time market data",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applySettings(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.zk, "zk", "127.0.0.1:2181", "ZooKeeper servers, host:port[,host:port] (env STOCKSYS_ZK)")
	pf.StringVar(&g.cluster, "cluster", "default", "cluster name; znodes live under /stocksys/<cluster> (env STOCKSYS_CLUSTER)")
	pf.StringVar(&g.kafka, "kafka", "127.0.0.1:9092", "Kafka bootstrap brokers, host:port[,host:port] (env STOCKSYS_KAFKA)")
	pf.StringVar(&g.cassandra, "cassandra", "127.0.0.1:9042", "Cassandra contact points, host:port[,host:port] (env STOCKSYS_CASSANDRA)")
	pf.StringVar(&g.zkAuthFile, "zk-auth-file", "", "file holding the ZooKeeper digest identity (user:password) to authenticate as; a node creates the cluster's znodes writable by it alone (env STOCKSYS_ZK_AUTH_FILE); never printed")
	pf.StringVar(&g.zkReadAuthFile, "zk-read-auth-file", "", "with --zk-auth-file: file holding the cluster's read-only identity (user:password); its znodes are then readable by it alone, else by anyone (env STOCKSYS_ZK_READ_AUTH_FILE)")
	pf.BoolVar(&g.kafkaTLS, "kafka-tls", false, "connect to Kafka over TLS, trusting the system's CAs (env STOCKSYS_KAFKA_TLS); --kafka-ca-file implies it")
	pf.StringVar(&g.kafkaCAFile, "kafka-ca-file", "", "PEM CA bundle the brokers' certificates must chain to; connects over TLS and checks the broker's host name (env STOCKSYS_KAFKA_CA_FILE)")
	pf.StringVar(&g.kafkaAuthFile, "kafka-auth-file", "", "file holding the Kafka SASL/SCRAM-SHA-512 login (user:password); use with TLS (env STOCKSYS_KAFKA_AUTH_FILE); never printed")
	pf.BoolVar(&g.cassandraTLS, "cassandra-tls", false, "connect to Cassandra over client TLS, trusting the system's CAs (env STOCKSYS_CASSANDRA_TLS); --cassandra-ca-file implies it")
	pf.StringVar(&g.cassandraCAFile, "cassandra-ca-file", "", "PEM CA bundle the Cassandra nodes' certificates must chain to; connects over TLS and checks each node's host name or IP address (env STOCKSYS_CASSANDRA_CA_FILE)")
	pf.StringVar(&g.cassandraAuthFile, "cassandra-auth-file", "", "file holding the Cassandra PasswordAuthenticator login (user:password) (env STOCKSYS_CASSANDRA_AUTH_FILE); never printed")
	pf.String("config", "", "YAML config file; keys are flag names (env STOCKSYS_CONFIG)")

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
		newNodeCmd(g), newMaintenanceCmd(g), newTaskCmd(g), newMasterCmd(g),
		newQueryCmd(g),
		newChaosCmd(g), newVerifyCmd(g),
		newRebuildCmd(g),
		newBenchCmd(g),
	)
	wrapNoAuth(root, g)
	return root
}

// wrapNoAuth explains every command's ZooKeeper ErrNoAuth by the
// --zk-auth-file setting (globals.noAuthHint).
func wrapNoAuth(c *cobra.Command, g *globals) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error { return g.noAuthHint(run(cmd, args)) }
	}
	for _, sc := range c.Commands() {
		wrapNoAuth(sc, g)
	}
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "stocksys:", err)
		os.Exit(1)
	}
}

// needSubcommand is the RunE of commands that only group subcommands: a
// missing or unknown subcommand is an error (exit 1), not help and exit 0.
func needSubcommand(cmd *cobra.Command, _ []string) error {
	_ = cmd.Help()
	return fmt.Errorf("%s needs a subcommand", cmd.CommandPath())
}
