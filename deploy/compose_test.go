package deploy_test

import (
	"context"
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/store"
)

var (
	servers = []string{"zookeeper", "kafka", "cassandra"}
	nodes   = []string{"node-1", "node-2", "node-3"}
)

// repoRoot is the absolute path of the repository (go test runs in deploy/).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var (
	projectOnce sync.Once
	project     *types.Project
	projectErr  error
)

// loadProject loads ../docker-compose.yml as `docker compose` would from the
// repository root. The environment it sees holds decoys for the variables
// the file sets: a value that came from the environment instead of the file
// would show up as "from-the-environment" and fail the value checks.
func loadProject(t *testing.T) *types.Project {
	t.Helper()
	root := repoRoot(t)
	projectOnce.Do(func() {
		path := filepath.Join(root, "docker-compose.yml")
		data, err := os.ReadFile(path)
		if err != nil {
			projectErr = err
			return
		}
		env := map[string]string{}
		for _, k := range []string{"STOCKSYS_ZK", "STOCKSYS_KAFKA", "STOCKSYS_CASSANDRA", "STOCKSYS_CLUSTER",
			"STOCKSYS_ID", "STOCKSYS_HTTP", "STOCKSYS_SOURCE", "STOCKSYS_CONSISTENCY", "KAFKA_ADVERTISED_LISTENERS"} {
			env[k] = "from-the-environment"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		project, projectErr = loader.LoadWithContext(ctx, types.ConfigDetails{
			WorkingDir:  root,
			ConfigFiles: []types.ConfigFile{{Filename: path, Content: data}},
			Environment: env,
		})
	})
	if projectErr != nil {
		t.Fatalf("loading docker-compose.yml with compose-go: %v", projectErr)
	}
	return project
}

func service(t *testing.T, name string) types.ServiceConfig {
	t.Helper()
	s, ok := loadProject(t).Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// env is the value of key in s's environment ("" and false when unset).
func env(s types.ServiceConfig, key string) (string, bool) {
	v, ok := s.Environment[key]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

func mustEnv(t *testing.T, s types.ServiceConfig, key string) string {
	t.Helper()
	v, ok := env(s, key)
	if !ok || v == "" {
		t.Fatalf("%s: environment %s is not set", s.Name, key)
	}
	return v
}

func TestComposeServicesAreExactlyTheServersAndThreeNodes(t *testing.T) {
	p := loadProject(t)
	if p.Name != "stocksys" {
		t.Errorf("project name %q, want stocksys (the top-level name:)", p.Name)
	}
	got := p.ServiceNames()
	sort.Strings(got)
	want := append(append([]string{}, servers...), nodes...)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("services %v, want exactly %v", got, want)
	}
}

func TestComposeServerImagesAreTheOfficialOnes(t *testing.T) {
	if got := service(t, "zookeeper").Image; got != "zookeeper:3.9" {
		t.Errorf("zookeeper image %q, want zookeeper:3.9", got)
	}
	if got := service(t, "kafka").Image; !regexp.MustCompile(`^apache/kafka:4\.\d+(\.\d+)?$`).MatchString(got) {
		t.Errorf("kafka image %q, want apache/kafka:4.x (KRaft-only Kafka, as scripts/infra.sh runs 4.1.1)", got)
	}
	if got := service(t, "cassandra").Image; got != "cassandra:5.0" {
		t.Errorf("cassandra image %q, want cassandra:5.0", got)
	}
	for _, name := range servers {
		if s := service(t, name); s.Build != nil {
			t.Errorf("%s: has a build section; the servers run the official images as they are", name)
		}
	}
}

func TestComposeEveryServerHasAHealthcheck(t *testing.T) {
	// What each check must probe: the client port the nodes use, with the
	// image's own tools.
	probes := map[string][]string{
		"zookeeper": {zkClientPort(t)},
		"kafka":     {"kafka-broker-api-versions.sh", "localhost:" + kafkaAdvertisedPort(t)},
		"cassandra": {"cqlsh", "system.local"},
	}
	for _, name := range servers {
		s := service(t, name)
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 {
			t.Errorf("%s: no healthcheck (the nodes start only once it passes)", name)
			continue
		}
		if hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL" {
			t.Errorf("%s: healthcheck test %q: want CMD or CMD-SHELL form", name, hc.Test)
		}
		cmd := strings.Join(hc.Test[1:], " ")
		for _, p := range probes[name] {
			if !strings.Contains(cmd, p) {
				t.Errorf("%s: healthcheck %q does not probe %q", name, cmd, p)
			}
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil || *hc.Retries == 0 {
			t.Errorf("%s: healthcheck wants an interval, a timeout and retries", name)
		}
	}
}

// zkClientPort is the client port of the zookeeper service: the part after
// ';' of its server line in ZOO_SERVERS (the official image writes it to
// zoo.cfg as server.1=...;[host:]port), which the service also exposes.
func zkClientPort(t *testing.T) string {
	t.Helper()
	s := service(t, "zookeeper")
	line := mustEnv(t, s, "ZOO_SERVERS")
	_, client, ok := strings.Cut(line, ";")
	if !ok || strings.Contains(line, " ") {
		t.Fatalf("zookeeper: ZOO_SERVERS %q: want one server line server.1=host:peer:election;[host:]clientport", line)
	}
	port := client
	if i := strings.LastIndexByte(client, ':'); i >= 0 {
		port = client[i+1:]
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		t.Fatalf("zookeeper: ZOO_SERVERS %q: client port %q: %v", line, port, err)
	}
	if !slices.Contains([]string(s.Expose), port) {
		t.Errorf("zookeeper: client port %s is not in expose %v", port, s.Expose)
	}
	return port
}

// kafkaListeners parses a Kafka listener list: NAME://host:port,...
func kafkaListeners(t *testing.T, v string) map[string]struct{ host, port string } {
	t.Helper()
	out := map[string]struct{ host, port string }{}
	for _, l := range strings.Split(v, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(l), "://")
		if !ok {
			t.Fatalf("kafka: listener %q: want NAME://host:port", l)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("kafka: listener %q: %v", l, err)
		}
		out[name] = struct{ host, port string }{host, port}
	}
	return out
}

// kafkaAdvertisedPort is the port of the one listener Kafka advertises to
// clients, checked to advertise the service's own name.
func kafkaAdvertisedPort(t *testing.T) string {
	t.Helper()
	s := service(t, "kafka")
	adv := kafkaListeners(t, mustEnv(t, s, "KAFKA_ADVERTISED_LISTENERS"))
	if len(adv) != 1 {
		t.Fatalf("kafka: KAFKA_ADVERTISED_LISTENERS %v: want exactly one (the client listener)", adv)
	}
	for name, a := range adv {
		if a.host != "kafka" {
			t.Errorf("kafka: advertised listener %s host %q, want the service name kafka (what clients in the compose network resolve)", name, a.host)
		}
		return a.port
	}
	panic("unreachable")
}

func TestComposeKafkaIsKRaftCombinedAndAdvertisesItsServiceName(t *testing.T) {
	s := service(t, "kafka")
	roles := strings.Split(mustEnv(t, s, "KAFKA_PROCESS_ROLES"), ",")
	sort.Strings(roles)
	if !slices.Equal(roles, []string{"broker", "controller"}) {
		t.Errorf("kafka: KAFKA_PROCESS_ROLES %v, want broker,controller (KRaft combined mode)", roles)
	}
	if _, ok := env(s, "KAFKA_ZOOKEEPER_CONNECT"); ok {
		t.Error("kafka: KAFKA_ZOOKEEPER_CONNECT is set: Kafka 4 is KRaft only, and the image would skip its defaults")
	}
	nodeID := mustEnv(t, s, "KAFKA_NODE_ID")
	listeners := kafkaListeners(t, mustEnv(t, s, "KAFKA_LISTENERS"))
	ctrlName := mustEnv(t, s, "KAFKA_CONTROLLER_LISTENER_NAMES")
	ctrl, ok := listeners[ctrlName]
	if !ok {
		t.Fatalf("kafka: controller listener %q not in KAFKA_LISTENERS %v", ctrlName, listeners)
	}
	if got, want := mustEnv(t, s, "KAFKA_CONTROLLER_QUORUM_VOTERS"), nodeID+"@kafka:"+ctrl.port; got != want {
		t.Errorf("kafka: KAFKA_CONTROLLER_QUORUM_VOTERS %q, want %q (itself, the only voter)", got, want)
	}
	port := kafkaAdvertisedPort(t)
	adv := kafkaListeners(t, mustEnv(t, s, "KAFKA_ADVERTISED_LISTENERS"))
	for name, a := range adv {
		if name == ctrlName {
			t.Errorf("kafka: the controller listener %s is advertised", name)
		}
		l, ok := listeners[name]
		if !ok || l.port != a.port {
			t.Errorf("kafka: advertised listener %s port %s has no listener on that port in KAFKA_LISTENERS %v", name, a.port, listeners)
		}
		if ib, _ := env(s, "KAFKA_INTER_BROKER_LISTENER_NAME"); ib != "" && ib != name {
			t.Errorf("kafka: KAFKA_INTER_BROKER_LISTENER_NAME %q is not the advertised listener %s", ib, name)
		}
	}
	if !slices.Contains([]string(s.Expose), port) {
		t.Errorf("kafka: client port %s is not in expose %v", port, s.Expose)
	}
	protocols := map[string]string{}
	for _, kv := range strings.Split(mustEnv(t, s, "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"), ",") {
		k, v, _ := strings.Cut(kv, ":")
		protocols[k] = v
	}
	for name := range listeners {
		if protocols[name] != "PLAINTEXT" {
			t.Errorf("kafka: listener %s has protocol %q in the security map, want PLAINTEXT", name, protocols[name])
		}
	}
	// Single broker: every internal topic with replication factor 1, and no
	// topics created by accident (the nodes create theirs, as on infra.sh).
	for k, want := range map[string]string{
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
		"KAFKA_DEFAULT_REPLICATION_FACTOR":                       "1",
		"KAFKA_MIN_INSYNC_REPLICAS":                              "1",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                        "false",
	} {
		if got, _ := env(s, k); got != want {
			t.Errorf("kafka: %s=%q, want %q", k, got, want)
		}
	}
	// The KRaft cluster id: a base64url UUID (16 bytes), as kafka-storage.sh random-uuid prints.
	id := mustEnv(t, s, "CLUSTER_ID")
	if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 16 {
		t.Errorf("kafka: CLUSTER_ID %q is not a base64url UUID", id)
	}
}

func TestComposeZooKeeperTicksFast(t *testing.T) {
	s := service(t, "zookeeper")
	if got := mustEnv(t, s, "ZOO_TICK_TIME"); got != "500" {
		t.Errorf("zookeeper: ZOO_TICK_TIME %s, want 500 (sessions expire at the first tick after their timeout)", got)
	}
}

// zkSessionBounds are the session timeouts the zookeeper service grants:
// minSessionTimeout/maxSessionTimeout from ZOO_CFG_EXTRA, else 2 and 20 ticks.
func zkSessionBounds(t *testing.T) (lo, hi time.Duration) {
	t.Helper()
	s := service(t, "zookeeper")
	tick, err := strconv.Atoi(mustEnv(t, s, "ZOO_TICK_TIME"))
	if err != nil {
		t.Fatalf("zookeeper: ZOO_TICK_TIME: %v", err)
	}
	lo, hi = time.Duration(2*tick)*time.Millisecond, time.Duration(20*tick)*time.Millisecond
	extra, _ := env(s, "ZOO_CFG_EXTRA")
	for _, kv := range strings.Fields(extra) {
		k, v, _ := strings.Cut(kv, "=")
		ms, err := strconv.Atoi(v)
		if err != nil {
			continue
		}
		switch k {
		case "minSessionTimeout":
			lo = time.Duration(ms) * time.Millisecond
		case "maxSessionTimeout":
			hi = time.Duration(ms) * time.Millisecond
		}
	}
	return lo, hi
}

func TestComposeNodesAreBuiltFromTheDockerfile(t *testing.T) {
	root := repoRoot(t)
	image := ""
	for _, name := range nodes {
		s := service(t, name)
		if s.Build == nil {
			t.Errorf("%s: no build section", name)
			continue
		}
		if s.Build.Context != root {
			t.Errorf("%s: build context %q, want the repository root %q", name, s.Build.Context, root)
		}
		df := s.Build.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		if !filepath.IsAbs(df) {
			df = filepath.Join(s.Build.Context, df)
		}
		if df != filepath.Join(root, "Dockerfile") {
			t.Errorf("%s: dockerfile %q, want %s", name, df, filepath.Join(root, "Dockerfile"))
		}
		if !slices.Equal([]string(s.Command), []string{"node"}) {
			t.Errorf("%s: command %q, want [node]", name, s.Command)
		}
		if len(s.Entrypoint) != 0 {
			t.Errorf("%s: entrypoint %q overrides the image's /stocksys", name, s.Entrypoint)
		}
		if image == "" {
			image = s.Image
		} else if s.Image != image {
			t.Errorf("%s: image %q, want the same image %q as the other nodes (built once)", name, s.Image, image)
		}
	}
}

func TestComposeNodesAreWiredToTheServers(t *testing.T) {
	zk := "zookeeper:" + zkClientPort(t)
	kafka := "kafka:" + kafkaAdvertisedPort(t)
	if !slices.Contains([]string(service(t, "cassandra").Expose), "9042") {
		t.Errorf("cassandra: 9042 (the native protocol port) is not in expose %v", service(t, "cassandra").Expose)
	}
	lo, hi := zkSessionBounds(t)
	cluster := ""
	for i, name := range nodes {
		s := service(t, name)
		for k, want := range map[string]string{
			"STOCKSYS_ID":        name,
			"STOCKSYS_ZK":        zk,
			"STOCKSYS_KAFKA":     kafka,
			"STOCKSYS_CASSANDRA": "cassandra:9042",
		} {
			if got, _ := env(s, k); got != want {
				t.Errorf("%s: %s=%q, want %q", name, k, got, want)
			}
		}
		if err := session.ValidateNodeID(mustEnv(t, s, "STOCKSYS_ID")); err != nil {
			t.Errorf("%s: STOCKSYS_ID: %v", name, err)
		}
		c := mustEnv(t, s, "STOCKSYS_CLUSTER")
		if cluster == "" {
			cluster = c
		} else if c != cluster {
			t.Errorf("%s: STOCKSYS_CLUSTER %q, want %q like the other nodes", name, c, cluster)
		}

		// HTTP: all interfaces inside the container, published on 8081..8083.
		host, port, err := net.SplitHostPort(mustEnv(t, s, "STOCKSYS_HTTP"))
		if err != nil {
			t.Fatalf("%s: STOCKSYS_HTTP: %v", name, err)
		}
		if host != "0.0.0.0" && host != "" && host != "::" {
			t.Errorf("%s: STOCKSYS_HTTP host %q: unreachable from outside the container; want 0.0.0.0", name, host)
		}
		target, _ := strconv.ParseUint(port, 10, 32)
		published := strconv.Itoa(8081 + i)
		if len(s.Ports) != 1 || s.Ports[0].Target != uint32(target) || s.Ports[0].Published != published ||
			(s.Ports[0].Protocol != "" && s.Ports[0].Protocol != "tcp") {
			t.Errorf("%s: ports %+v, want exactly %s -> %d/tcp (the STOCKSYS_HTTP port)", name, s.Ports, published, target)
		}

		// Values the node validates at start.
		if v, ok := env(s, "STOCKSYS_CONSISTENCY"); !ok || v != "ONE" {
			t.Errorf("%s: STOCKSYS_CONSISTENCY %q, want ONE (a single Cassandra node)", name, v)
		} else if _, err := store.ParseConsistency(v); err != nil {
			t.Errorf("%s: STOCKSYS_CONSISTENCY: %v", name, err)
		}
		if v, ok := env(s, "STOCKSYS_SOURCE"); !ok {
			t.Errorf("%s: STOCKSYS_SOURCE is not set", name)
		} else if _, err := quote.ParseSpec(v); err != nil {
			t.Errorf("%s: STOCKSYS_SOURCE: %v", name, err)
		}
		timeout := 6 * time.Second // --session-timeout's default
		if v, ok := env(s, "STOCKSYS_SESSION_TIMEOUT"); ok {
			if timeout, err = time.ParseDuration(v); err != nil {
				t.Errorf("%s: STOCKSYS_SESSION_TIMEOUT: %v", name, err)
			}
		}
		if timeout < lo || timeout > hi || timeout < time.Second || timeout > 40*time.Second {
			t.Errorf("%s: session timeout %v: want within ZooKeeper's %v..%v and the node's 1s..40s", name, timeout, lo, hi)
		}

		// Start after the servers answer; stop gracefully.
		var deps []string
		for dep, d := range s.DependsOn {
			deps = append(deps, dep)
			if d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: depends_on %s condition %q, want %s", name, dep, d.Condition, types.ServiceConditionHealthy)
			}
		}
		sort.Strings(deps)
		want := append([]string{}, servers...)
		sort.Strings(want)
		if !slices.Equal(deps, want) {
			t.Errorf("%s: depends_on %v, want %v", name, deps, want)
		}
		if s.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("%s: restart %q, want unless-stopped", name, s.Restart)
		}
		if s.StopSignal != "" && s.StopSignal != "SIGTERM" {
			t.Errorf("%s: stop_signal %q: the node hands over on SIGTERM", name, s.StopSignal)
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) < 2*timeout ||
			time.Duration(*s.StopGracePeriod) < 20*time.Second {
			t.Errorf("%s: stop_grace_period %v: want >= 20s and >= twice the session timeout %v for a graceful handover",
				name, s.StopGracePeriod, timeout)
		}
	}
}

// envName mirrors cmd/stocksys/config.go's envName, which
// TestEnvNameRecipeIsConfigGos checks has not changed.
func envName(flag string) string {
	return "STOCKSYS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func parseCmdFiles(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot(t), "cmd", "stocksys", "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Go files in cmd/stocksys (%v)", err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parsing %s: %v", p, err)
		}
		files = append(files, f)
	}
	return fset, files
}

func TestEnvNameRecipeIsConfigGos(t *testing.T) {
	fset, files := parseCmdFiles(t)
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Name.Name != "envName" {
				continue
			}
			var b strings.Builder
			if err := printer.Fprint(&b, fset, fd.Body); err != nil {
				t.Fatal(err)
			}
			body := strings.Join(strings.Fields(b.String()), "")
			want := `return"STOCKSYS_"+strings.ToUpper(strings.ReplaceAll(flag,"-","_"))`
			if !strings.Contains(body, want) {
				t.Fatalf("cmd/stocksys envName changed:\n%s\nupdate envName in deploy/compose_test.go to match", b.String())
			}
			return
		}
	}
	t.Fatal("no func envName in cmd/stocksys")
}

// flagDefiner matches pflag's flag-defining methods: String, StringVar,
// IntVarP, DurationVar, BoolVar, StringArrayVar, ...
var flagDefiner = regexp.MustCompile(`^(String|Int|Int32|Int64|Uint|Bool|Duration|Float64|StringSlice|StringArray|IntSlice|Count)(Var)?P?$`)

// flagsOf returns the flags defined in function fn of cmd/stocksys on a flag
// set obtained from one of accessors (Flags, PersistentFlags), directly
// (cmd.Flags().StringVar(...)) or through a variable (f := cmd.Flags()).
func flagsOf(t *testing.T, files []*ast.File, fn string, accessors ...string) []string {
	t.Helper()
	isAccessorCall := func(e ast.Expr) bool {
		c, ok := e.(*ast.CallExpr)
		if !ok {
			return false
		}
		sel, ok := c.Fun.(*ast.SelectorExpr)
		return ok && slices.Contains(accessors, sel.Sel.Name)
	}
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Name.Name != fn || fd.Body == nil {
				continue
			}
			sets := map[string]bool{}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
					for i, r := range as.Rhs {
						if id, ok := as.Lhs[i].(*ast.Ident); ok && isAccessorCall(r) {
							sets[id.Name] = true
						}
					}
				}
				return true
			})
			var names []string
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := c.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				m := flagDefiner.FindStringSubmatch(sel.Sel.Name)
				if m == nil {
					return true
				}
				recv := false
				if id, ok := sel.X.(*ast.Ident); ok && sets[id.Name] {
					recv = true
				}
				if isAccessorCall(sel.X) {
					recv = true
				}
				arg := 0
				if m[2] == "Var" {
					arg = 1
				}
				if !recv || len(c.Args) <= arg {
					return true
				}
				lit, ok := c.Args[arg].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				if s, err := strconv.Unquote(lit.Value); err == nil {
					names = append(names, s)
				}
				return true
			})
			return names
		}
	}
	t.Fatalf("no func %s in cmd/stocksys", fn)
	return nil
}

// nodeFlagEnv maps the environment name of every flag of `stocksys node`
// (the root's persistent flags and the node command's own) to the flag.
func nodeFlagEnv(t *testing.T) map[string]string {
	t.Helper()
	_, files := parseCmdFiles(t)
	out := map[string]string{}
	for _, f := range flagsOf(t, files, "newRootCmd", "PersistentFlags") {
		out[envName(f)] = f
	}
	for _, f := range flagsOf(t, files, "newNodeCmd", "Flags", "PersistentFlags") {
		out[envName(f)] = f
	}
	// The parse must find the flags everyone knows are there.
	for _, f := range []string{"zk", "cluster", "kafka", "cassandra", "config", "id", "http", "session-timeout", "source", "consistency"} {
		if _, ok := out[envName(f)]; !ok {
			t.Fatalf("flag --%s of stocksys node not found in cmd/stocksys (found %v): has the flag code moved?", f, out)
		}
	}
	return out
}

func TestComposeStocksysVariablesAreNodeFlags(t *testing.T) {
	known := nodeFlagEnv(t)
	p := loadProject(t)
	used := 0
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		for k := range s.Environment {
			if !strings.HasPrefix(k, "STOCKSYS_") {
				continue
			}
			used++
			if _, ok := known[k]; !ok {
				var flags []string
				for e, f := range known {
					flags = append(flags, "--"+f+" "+e)
				}
				sort.Strings(flags)
				t.Errorf("%s: %s is not the variable of any flag of stocksys node; the node would ignore it. Flags: %s",
					name, k, strings.Join(flags, ", "))
			}
		}
	}
	if used == 0 {
		t.Fatal("no STOCKSYS_* variable in docker-compose.yml")
	}
}

// Nothing in the file is taken from the environment of whoever runs
// `docker compose`: a ${VAR} would make the tested values differ from the
// deployed ones.
func TestComposeFileHasNoInterpolation(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.Contains(line, "$") {
			t.Errorf("docker-compose.yml:%d: %q: no interpolation wanted", i+1, line)
		}
	}
}
