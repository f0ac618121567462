// Command infra-probe asks a ZooKeeper, Kafka or Cassandra server whether it
// really answers, and prints the version the server reports about itself.
// scripts/infra.sh uses it to decide when a server is ready and for `status`.
//
// Usage:
//
//	infra-probe zookeeper HOST:PORT          # sends the four-letter word "srvr"
//	infra-probe kafka HOST:PORT [LOGFILE]    # a Metadata request; version from the broker's log
//	infra-probe cassandra HOST:PORT          # SELECT release_version FROM system.local
//	infra-probe cql HOST:PORT STATEMENT...   # runs each CQL statement (retried until -timeout)
//
// Secured servers (scripts/infra.sh up --secure): -ca FILE trusts that PEM
// CA and connects over TLS, checking the server's host name; -auth FILE
// logs in with the user:password in FILE (Kafka SASL/SCRAM-SHA-512,
// Cassandra PasswordAuthenticator).
//
// On success it prints one line "VERSION [DETAIL]" and exits 0; otherwise it
// prints the error on stderr and exits 1. Each probe gives up after -timeout
// (default 3s).
package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/gocql/gocql"

	"github.com/stock-system/stocksys/security"
)

func main() {
	timeout := flag.Duration("timeout", 3*time.Second, "give up after this long")
	caFile := flag.String("ca", "", "PEM CA bundle: connect over TLS, trusting it")
	authFile := flag.String("auth", "", "user:password file to log in with")
	flag.Parse()
	if err := loadSecurity(*caFile, *authFile); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	args := flag.Args()
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: infra-probe [-timeout D] [-ca FILE] [-auth FILE] zookeeper|kafka|cassandra|cql HOST:PORT [LOGFILE|STATEMENT...]")
		os.Exit(2)
	}
	var (
		out string
		err error
	)
	switch args[0] {
	case "zookeeper":
		out, err = probeZooKeeper(args[1], *timeout)
	case "kafka":
		logFile := ""
		if len(args) > 2 {
			logFile = args[2]
		}
		out, err = probeKafka(args[1], logFile, *timeout)
	case "cassandra":
		out, err = probeCassandra(args[1], *timeout)
	case "cql":
		out, err = runCQL(args[1], args[2:], *timeout)
	default:
		err = fmt.Errorf("unknown server kind %q (want zookeeper, kafka or cassandra)", args[0])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n", args[0], args[1], err)
		os.Exit(1)
	}
	fmt.Println(out)
}

var zkVersionRE = regexp.MustCompile(`(?m)^Zookeeper version: ([0-9][^-,\s]*)`)
var zkModeRE = regexp.MustCompile(`(?m)^Mode: (\S+)`)

// probeZooKeeper sends "srvr" and returns "VERSION MODE" (mode: standalone,
// leader or follower). A server that is up but not serving (no quorum) answers
// "This ZooKeeper instance is not currently serving requests", an error here.
func probeZooKeeper(addr string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, "srvr"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil && len(b) == 0 {
		return "", err
	}
	s := string(b)
	m := zkVersionRE.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("unexpected srvr answer: %q", strings.TrimSpace(s))
	}
	mode := "unknown"
	if mm := zkModeRE.FindStringSubmatch(s); mm != nil {
		mode = mm[1]
	}
	return m[1] + " " + mode, nil
}

var kafkaVersionRE = regexp.MustCompile(`Kafka version: (\S+)`)

// probeKafka sends a Metadata request and checks that the broker lists itself.
// Kafka's protocol carries no software version, so the version is the one the
// broker process wrote to its own log at start ("Kafka version: X"), when a
// log file is given.
func probeKafka(addr, logFile string, timeout time.Duration) (string, error) {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.Net.DialTimeout = timeout
	cfg.Net.ReadTimeout = timeout
	cfg.Net.WriteTimeout = timeout
	cfg.Metadata.Retry.Max = 0
	if tlsConfig != nil {
		cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, tlsConfig
	}
	if login != nil {
		cfg.Net.SASL.Enable, cfg.Net.SASL.Handshake = true, true
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		cfg.Net.SASL.User, cfg.Net.SASL.Password = login.User, login.Password
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &security.SCRAMClient{} }
	}
	b := sarama.NewBroker(addr)
	if err := b.Open(cfg); err != nil {
		return "", err
	}
	defer b.Close()
	md, err := b.GetMetadata(&sarama.MetadataRequest{Version: 7})
	if err != nil {
		return "", err
	}
	if len(md.Brokers) == 0 {
		return "", errors.New("metadata lists no broker")
	}
	version := "unknown"
	if logFile != "" {
		if v, err := lastMatch(logFile, kafkaVersionRE); err == nil && v != "" {
			version = v
		}
	}
	return fmt.Sprintf("%s brokers=%d controller=%d", version, len(md.Brokers), md.ControllerID), nil
}

func lastMatch(path string, re *regexp.Regexp) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	last := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			last = m[1]
		}
	}
	return last, sc.Err()
}

// The -ca and -auth settings (nil: plaintext, no login).
var (
	tlsConfig *tls.Config
	login     *security.Credentials
)

func loadSecurity(caFile, authFile string) error {
	if caFile != "" {
		c, err := security.ClientTLS(caFile)
		if err != nil {
			return fmt.Errorf("-ca: %w", err)
		}
		tlsConfig = c
	}
	if authFile != "" {
		c, err := security.ReadCredentials(authFile)
		if err != nil {
			return fmt.Errorf("-auth: %w", err)
		}
		login = &c
	}
	return nil
}

func cassandraSession(addr string, timeout time.Duration) (*gocql.Session, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	c := gocql.NewCluster(host)
	_, _ = fmt.Sscan(port, &c.Port)
	c.Timeout = timeout
	c.ConnectTimeout = timeout
	c.DisableInitialHostLookup = true
	c.NumConns = 1
	c.Logger = discardLogger{}
	if tlsConfig != nil {
		c.SslOpts = &gocql.SslOptions{Config: tlsConfig, EnableHostVerification: true}
	}
	if login != nil {
		c.Authenticator = gocql.PasswordAuthenticator{Username: login.User, Password: login.Password}
	}
	return c.CreateSession()
}

// runCQL runs statements in order, retrying the connection and each
// statement for up to timeout (a new node's default superuser and its auth
// tables take a moment to appear).
func runCQL(addr string, stmts []string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	var s *gocql.Session
	var err error
	for s == nil {
		if s, err = cassandraSession(addr, 5*time.Second); err != nil {
			if time.Now().After(deadline) {
				return "", err
			}
			time.Sleep(time.Second)
		}
	}
	defer s.Close()
	for i, st := range stmts {
		for {
			if err = s.Query(st).Exec(); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("statement %d: %w", i+1, err)
			}
			time.Sleep(time.Second)
		}
	}
	return fmt.Sprintf("%d statements", len(stmts)), nil
}

// probeCassandra runs the query that scripts/infra.sh treats as readiness.
func probeCassandra(addr string, timeout time.Duration) (string, error) {
	s, err := cassandraSession(addr, timeout)
	if err != nil {
		return "", err
	}
	defer s.Close()
	var v string
	if err := s.Query(`SELECT release_version FROM system.local`).Scan(&v); err != nil {
		return "", err
	}
	return v, nil
}

type discardLogger struct{}

func (discardLogger) Print(...any)          {}
func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
