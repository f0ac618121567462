// Package security reads the secrets and certificates that connect a node
// to secured Kafka brokers and Cassandra nodes, and names what is wrong when
// they do not fit.
//
// Recipe:
//   - A password lives in a file, never on a command line: ReadCredentials
//     reads one "user:password" line (the format of the ZooKeeper digest
//     identities, zkapi.ReadCredentials, which uses it too). Credentials
//     never print their password (String, GoString and the JSON encoding
//     show the user alone).
//   - A server's certificate is checked against a CA bundle in a PEM file
//     (ClientTLS): TLS 1.2 or later, and the server's host name or IP
//     address must be in its certificate (Go's crypto/tls default; the
//     caller never sets InsecureSkipVerify). Without a CA file the system's
//     roots are used.
//   - Kafka: SASL/SCRAM-SHA-512 (RFC 5802, RFC 7677) over TLS, the client
//     side of SCRAM from github.com/xdg-go/scram (SCRAMClient, for sarama's
//     SCRAMClientGeneratorFunc); see stream.Config.TLS and SASL.
//   - Cassandra: PasswordAuthenticator over client TLS with host
//     verification; see store.Config.TLS and Auth.
//
// The package owns no znodes, topics or tables.
package security
