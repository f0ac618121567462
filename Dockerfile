# syntax=docker/dockerfile:1
#
# Stock-System node image: a static stocksys binary on distroless.
#
#   docker build -t stocksys:local --build-arg VERSION=$(git describe --always --dirty) .
#   docker run --rm stocksys:local version
#
# Every flag can come from its environment variable (STOCKSYS_ZK, STOCKSYS_KAFKA,
# STOCKSYS_CASSANDRA, STOCKSYS_CLUSTER, STOCKSYS_ID, ...): see docker-compose.yml.

# ---------------------------------------------------------------- build
# The Go of go.mod (1.26.x); the golang image sets GOTOOLCHAIN=local, so an
# older patch release than go.mod's would fail here rather than download one.
ARG GO_VERSION=1.26
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src

# Modules first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
# The patched ZooKeeper client that go.mod's replace points at.
COPY third_party/ third_party/
RUN go mod download && go mod verify

COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
# Static binary (no cgo), reproducible paths, stripped; the version goes into
# `stocksys version` and the members/<id> znode.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/stocksys ./cmd/stocksys

# ---------------------------------------------------------------- run
# distroless/static: no shell, no package manager; it has CA certificates (for
# the live HTTPS quote sources, yahoo and alphavantage), tzdata and /etc/passwd
# with the nonroot user (uid/gid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/stocksys /stocksys
USER nonroot:nonroot

# The node's HTTP server: /metrics /healthz /readyz /status. The binary's
# default is 127.0.0.1:<8080+N>, unreachable from outside a container, so the
# image listens on all interfaces (other commands have no --http flag and
# ignore the variable).
ENV STOCKSYS_HTTP=0.0.0.0:8080
EXPOSE 8080

# No HEALTHCHECK: distroless has no shell, curl or wget to probe /healthz with,
# and stocksys has no probe subcommand. Orchestrators should probe
# http://<container>:8080/healthz (liveness) and /readyz (readiness) from outside.

# SIGTERM (the default stop signal) makes a node resign, stop its tasks, commit
# and exit 0; give it time (docker-compose.yml: stop_grace_period).
ENTRYPOINT ["/stocksys"]
CMD ["node"]
