// Package deploy holds no code: its tests check the container deployment files
// at the repository root against the code they deploy, without a Docker engine.
//
// compose_test.go loads ../docker-compose.yml with compose-go (the loader
// Docker Compose itself uses, so schema errors, bad merge keys and wrong
// types fail here) and checks values: exactly the services zookeeper, kafka,
// cassandra and node-1..node-3; the official server images and their
// healthchecks; Kafka in KRaft combined mode advertising its service name; each
// node built from ./Dockerfile and wired to the servers' real ports, with its
// service name as id, one cluster name, its HTTP port published on 8081..8083,
// health-gated depends_on and a stop grace period for a graceful handover;
// and every STOCKSYS_* variable is the environment name of a flag that
// `stocksys node` really has (read from cmd/stocksys with go/ast).
//
// dockerfile_test.go checks the Dockerfile's text: a build stage and a final
// stage, a static (CGO_ENABLED=0) build of ./cmd/stocksys with the modules
// downloaded before the sources are copied, a non-root final image, and the
// .dockerignore.
//
// Images are neither built nor started by these tests.
package deploy
