// Package chaos is `stocksys chaos` and `stocksys chaos bench`: fault
// injection on a private cluster, with everything recorded so that package
// verify can check the run afterwards.
//
// # Recipe
//
// Setup empties a run folder, copies the real data it replays (a slice of
// ../shared/data), starts private servers through scripts/infra.sh on ports
// shifted by Config.PortOffset (a 3-server ZooKeeper ensemble, Kafka,
// Cassandra: never the shared servers), starts the nodes through
// scripts/cluster.sh with --audit (one node behind a ZooKeeper TCP Proxy),
// registers the symbols with replays paced to end at about 80% of the
// schedule, and waits until every task runs. Run then plays a schedule drawn
// from Plan.Seed (the same seed, the same schedule): kill -9 and restart,
// SIGSTOP/SIGCONT past the session timeout, a ZooKeeper server stopped, the
// proxied node cut off from ZooKeeper only, Kafka or Cassandra stopped;
// every fault is undone by the schedule. Settle waits until every quote of
// the source was fetched and every partition ingested to its end (records a
// read_committed consumer still sees after the committed offset: commit
// markers are not data). BenchTrials signals the master N times (SIGKILL,
// SIGTERM) for `chaos bench`.
//
// # Guarantees
//
//   - Only loopback addresses and the run's own private servers and node
//     processes are touched; CheckFree refuses ports in use or the shared
//     servers' defaults.
//   - Every fault and its undo is a line of events.jsonl (time, kind,
//     target, pid, signal), written before the next fault; with the nodes'
//     audit trails it is all verify needs.
//
// # Files owned (under the run folder, Config.Dir)
//
//	chaos.json     the Manifest: seed, schedule, servers, topic, keyspace, symbols
//	events.jsonl   the faults as injected and undone (Event)
//	cluster/       node pid files, logs, args, *.audit.jsonl (package audit)
//	infra/         the private servers' data and logs
//	data/          the replayed slice of the real data
//
// In the private servers: the cluster root /stocksys/<cluster>, the keyspace
// "chaos" and the topics chaos.quotes, chaos.quotes.dlq and
// chaos.quotes.checkpoints.
package chaos
