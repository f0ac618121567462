// Package stream carries quotes through Kafka, from the fetch tasks that
// produce them to the ingest tasks that store them in Cassandra.
//
// # Topics and messages
//
// EnsureTopics creates the quotes topic (Config.Topic, default "quotes",
// Config.Partitions partitions) and the dead-letter topic (Config.DLQTopic,
// default "quotes.dlq"); the brokers run with auto.create.topics.enable=false.
// Partitions lists the quotes topic's partitions, one ingest task each.
//
// A message's key is the symbol, so each symbol's quotes stay in order in one
// partition (sarama's hash partitioner, not Java's murmur2: produce with this
// package only). Its value is JSON with a schema version, see Encode and
// SchemaVersion; its headers are "epoch" (decimal), "node" and "task", the
// fetch task's assignment epoch and where it ran.
//
// # Producing
//
// Producer is idempotent (enable.idempotence, acks=all, one request in flight
// per connection), so the client's own retries neither duplicate nor reorder
// a partition's messages. Send returns within Config.SendTimeout whatever the
// brokers do; a timeout is ErrSendTimeout, an unknown outcome: the quotes may
// still be written, and sending them again may duplicate them (downstream
// writes are keyed by symbol and time, so a duplicate overwrites itself).
//
// # Transactions: one producer per fetch task
//
// TxProducer is a fetch task's transactional producer (KIP-98; fencing as
// Kafka Connect's exactly-once source tasks, KIP-618). Its transactional.id
// is TransactionalID(cluster, task):
//
//	stocksys.<cluster>.<type>.<key>     e.g. stocksys.default.fetch.BRK-B
//
// (the task id's '/' becomes '.'; cluster and task id are validated, and an
// invalid one is refused with ErrInvalidTransactionalID naming it).
// NewTxProducer initialises the id, which fences every earlier producer of
// it: a zombie owner of the task gets ErrProducerFenced from its next Send,
// and its open transaction is aborted. Each Send is one transaction: the
// quotes to Config.Topic, with the same value and headers as Producer.Send,
// and the task's Checkpoint (JSON {"v":1, "task", "position", "epoch",
// "node", "written"}, key = task id) to the checkpoint topic,
// Config.CheckpointTopicName(), by default "<Topic>.checkpoints", created by
// EnsureCheckpointTopic with cleanup.policy=compact and Config.Partitions
// partitions. ReadCheckpoint reads a task's newest committed checkpoint as
// a read_committed consumer, exactly as of the call.
//
// The brokers need transaction.state.log.replication.factor and
// transaction.state.log.min.isr no larger than the number of brokers
// (scripts/infra.sh sets 1 for its single broker).
//
// # Consuming
//
// Partitions are assigned by our master, not by Kafka consumer groups, and
// offsets are stored by the caller (in Cassandra, fenced by epoch), so
// ConsumePartition starts at the offset the caller gives and reports batches
// with Batch.Next, the offset to commit after storing the batch. Messages that
// do not decode go to the DLQ topic before their batch is handed on. A failing
// handler gets the same batch again, with backoff, until it succeeds or the
// context ends: a Cassandra outage pauses ingest without skipping anything,
// and ingest resumes by itself. Delivery to the handler is at-least-once
// across restarts (from the last committed Next). With Config.ReadCommitted
// (the default) the consumer reads read_committed: records of aborted or
// open transactions are never handed on, and a partition is read only up to
// its last stable offset. Batch.Next is the offset after the batch's last
// record handed on; a transaction's commit marker after it occupies an
// offset, so HighWater - Next stays at least 1 after a transaction until the
// next record arrives.
//
// The package owns no ZooKeeper paths.
package stream
