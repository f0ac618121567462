// Package datapath holds the process-level tests of the data path: real
// `stocksys node` processes replaying real quote files through Kafka into
// Cassandra, with failover (kill -9 of workers and the master), malformed
// messages (dead-letter topic) and server outages (private Kafka and
// Cassandra instances stopped or paused), checking afterwards that the stored
// quotes and bars equal the source files exactly.
package datapath
