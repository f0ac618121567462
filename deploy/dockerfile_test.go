package deploy_test

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper-cased: FROM, RUN, ...
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // a comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatal("Dockerfile ends in a continuation line")
	}
	return out
}

// stages splits the instructions at each FROM.
func stages(t *testing.T) [][]instruction {
	t.Helper()
	var out [][]instruction
	for _, in := range readDockerfile(t) {
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

var fromAs = regexp.MustCompile(`(?i)^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$`)

func TestDockerfileBuildsAStaticBinaryInABuildStage(t *testing.T) {
	st := stages(t)
	if len(st) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a build stage and a final stage", len(st))
	}
	build := st[0]
	m := fromAs.FindStringSubmatch(build[0].args)
	if m == nil || !strings.HasPrefix(m[1], "golang:") || m[2] == "" {
		t.Fatalf("first stage %q: want FROM golang:<go.mod's version> AS <name>", build[0].args)
	}
	var download, copyAll, goBuild int
	for i, in := range build {
		switch {
		case in.cmd == "RUN" && strings.Contains(in.args, "go mod download"):
			download = i
		case in.cmd == "COPY" && regexp.MustCompile(`^(--\S+\s+)*\.\s+\.$`).MatchString(in.args):
			copyAll = i
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			goBuild = i
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=", "./cmd/stocksys"} {
				if !strings.Contains(in.args, want) {
					t.Errorf("Dockerfile:%d: go build without %q", in.line, want)
				}
			}
		}
	}
	if download == 0 || copyAll == 0 || goBuild == 0 {
		t.Fatalf("build stage: want RUN go mod download, COPY . . and RUN go build (found at %d, %d, %d)", download, copyAll, goBuild)
	}
	if download > copyAll || copyAll > goBuild {
		t.Error("build stage: want go mod download before COPY . . (so the module layer is cached) and the build after it")
	}
	if !slices.ContainsFunc(build[:download], func(in instruction) bool {
		return in.cmd == "COPY" && strings.Contains(in.args, "go.mod") && strings.Contains(in.args, "go.sum")
	}) {
		t.Error("build stage: want COPY go.mod go.sum before go mod download")
	}
}

func TestDockerfileFinalStageIsMinimalAndNonRoot(t *testing.T) {
	st := stages(t)
	final := st[len(st)-1]
	m := fromAs.FindStringSubmatch(final[0].args)
	if m == nil {
		t.Fatalf("final stage FROM %q", final[0].args)
	}
	base := m[1]
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %q: want distroless/static or scratch", base)
	}
	user := ""
	if strings.HasSuffix(base, ":nonroot") {
		user = "nonroot"
	}
	get := func(cmd string) []string {
		var out []string
		for _, in := range final {
			if in.cmd == cmd {
				out = append(out, in.args)
			}
		}
		return out
	}
	if u := get("USER"); len(u) > 0 {
		user = u[len(u)-1]
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("final stage runs as %q: want a non-root USER (or a :nonroot base)", user)
	}
	if base == "scratch" && !slices.ContainsFunc(get("COPY"), func(s string) bool { return strings.Contains(s, "ca-certificates") }) {
		t.Error("final stage is scratch without CA certificates: the live HTTPS quote sources would fail")
	}
	if !slices.ContainsFunc(get("COPY"), func(s string) bool {
		return strings.HasPrefix(s, "--from=") && strings.HasSuffix(s, " /stocksys")
	}) {
		t.Error("final stage: want the binary copied from the build stage to /stocksys")
	}
	if e := get("ENTRYPOINT"); len(e) != 1 || strings.ReplaceAll(e[0], " ", "") != `["/stocksys"]` {
		t.Errorf("ENTRYPOINT %q, want [\"/stocksys\"]", e)
	}
	if c := get("CMD"); len(c) != 1 || strings.ReplaceAll(c[0], " ", "") != `["node"]` {
		t.Errorf("CMD %q, want [\"node\"]", c)
	}
	// The port it exposes is the one the compose nodes listen on.
	_, port, err := net.SplitHostPort(mustEnv(t, service(t, "node-1"), "STOCKSYS_HTTP"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(get("EXPOSE"), func(s string) bool { return slices.Contains(strings.Fields(s), port) }) {
		t.Errorf("EXPOSE %q does not include the HTTP port %s", get("EXPOSE"), port)
	}
}

func TestDockerignoreKeepsLocalStateOutOfTheContext(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		lines = append(lines, strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(l), "/"), "/"))
	}
	for _, want := range []string{".infra", ".cache", "bin", ".git"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, keep := range []string{"go.mod", "go.sum", "cmd", "*.go", "**/*.go", "*"} {
		if slices.Contains(lines, keep) {
			t.Errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
}
