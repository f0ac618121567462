package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/security"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
)

// tlsFlags are the TLS and password settings of one server kind (kafka or
// cassandra): --KIND-tls, --KIND-ca-file, --KIND-auth-file.
type tlsFlags struct {
	kind     string // "kafka" or "cassandra", the flags' prefix
	tls      bool   // --KIND-tls: TLS with the system's roots
	caFile   string // --KIND-ca-file: TLS with this CA bundle (implies --KIND-tls)
	authFile string // --KIND-auth-file: user:password
}

// load reads the files: the TLS settings (nil: plaintext) and the
// credentials (nil: none). Errors name the flag and the file, never a
// password.
func (f tlsFlags) load() (*tls.Config, *security.Credentials, error) {
	var tc *tls.Config
	if f.tls || f.caFile != "" {
		c, err := security.ClientTLS(f.caFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--%s-ca-file: %w", f.kind, err)
		}
		tc = c
	}
	if f.authFile == "" {
		return tc, nil, nil
	}
	cr, err := security.ReadCredentials(f.authFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--%s-auth-file: %w", f.kind, err)
	}
	return tc, &cr, nil
}

// settingsHint names the settings in use, for errors: e.g. "--kafka-ca-file
// ca.pem, --kafka-auth-file kafka.auth (user stocksys)".
func (f tlsFlags) settingsHint(cr *security.Credentials) string {
	var parts []string
	switch {
	case f.caFile != "":
		parts = append(parts, "--"+f.kind+"-ca-file "+f.caFile)
	case f.tls:
		parts = append(parts, "--"+f.kind+"-tls (system roots)")
	default:
		parts = append(parts, "no TLS (--"+f.kind+"-ca-file, --"+f.kind+"-tls)")
	}
	if cr != nil {
		parts = append(parts, "--"+f.kind+"-auth-file "+f.authFile+" ("+cr.String()+")")
	} else {
		parts = append(parts, "no --"+f.kind+"-auth-file")
	}
	return strings.Join(parts, ", ")
}

func (g *globals) kafkaFlags() tlsFlags {
	return tlsFlags{kind: "kafka", tls: g.kafkaTLS, caFile: g.kafkaCAFile, authFile: g.kafkaAuthFile}
}

func (g *globals) cassandraFlags() tlsFlags {
	return tlsFlags{kind: "cassandra", tls: g.cassandraTLS, caFile: g.cassandraCAFile, authFile: g.cassandraAuthFile}
}

// streamConfig is stream.DefaultConfig with --kafka and its security
// settings.
func (g *globals) streamConfig() (stream.Config, error) {
	c := stream.DefaultConfig()
	c.Brokers = splitList(g.kafka)
	tc, cr, err := g.kafkaFlags().load()
	if err != nil {
		return c, err
	}
	c.TLS, c.SASL = tc, cr
	return c, nil
}

// storeConfig is store.DefaultConfig with --cassandra and its security
// settings.
func (g *globals) storeConfig() (store.Config, error) {
	c := store.DefaultConfig()
	c.Hosts = splitList(g.cassandra)
	tc, cr, err := g.cassandraFlags().load()
	if err != nil {
		return c, err
	}
	c.TLS, c.Auth = tc, cr
	return c, nil
}

// loginCheckTimeout bounds each server's login check at a node's start.
const loginCheckTimeout = 10 * time.Second

// reachable returns the first of addrs that accepts a TCP connection within
// timeout, or "" if none does.
func reachable(addrs []string, timeout time.Duration) string {
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, timeout)
		if err == nil {
			c.Close()
			return a
		}
	}
	return ""
}

// explain names the server, the settings and the cause of a failed login
// or handshake. fatal reports a setting error, which retrying cannot mend:
// a refused login, a failed TLS handshake, or (without TLS) a server that
// closes the connection at once, as a TLS listener does. Other errors
// (timeouts of a slow or paused server) are not fatal.
func explain(kind, addr string, f tlsFlags, cr *security.Credentials, err error) (fatal bool, _ error) {
	var cause string
	switch {
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed), store.IsAuthError(err):
		fatal, cause = true, "the login was refused: wrong user or password"
		if cr == nil {
			cause = "the server wants a login"
		}
	case security.IsTLSError(err) || strings.Contains(err.Error(), "x509: ") || strings.Contains(err.Error(), "tls: "):
		fatal, cause = true, "the TLS handshake failed: the server's certificate is not trusted or does not name "+addr+", or the server does not speak TLS"
	case closedAtOnce(err) && f.caFile == "" && !f.tls:
		fatal, cause = true, "the server closed the connection: it may want TLS"
	default:
		cause = "no answer yet"
	}
	return fatal, fmt.Errorf("%s %s: %s (settings: %s): %w", kind, addr, cause, f.settingsHint(cr), err)
}

// cassandraError is the error of a command that could not open the store
// with cfg: a setting error (a refused login, a failed TLS handshake, a TLS
// listener met in plaintext) explained as a node's start explains it, else
// the error naming --cassandra.
func (g *globals) cassandraError(cfg store.Config, err error) error {
	if fatal, e := explain("cassandra", g.cassandra, g.cassandraFlags(), cfg.Auth, err); fatal {
		return e
	}
	return fmt.Errorf("cassandra %s: %w", g.cassandra, err)
}

// closedAtOnce reports a connection the server closed or reset during the
// handshake. gocql formats its causes into the message (%v), so the text is
// checked too.
func closedAtOnce(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	s := err.Error()
	return strings.HasSuffix(s, "EOF") || strings.Contains(s, "connection reset by peer")
}

// checkKafkaLogin connects to the first reachable bootstrap broker with
// cfg's TLS and SASL settings and asks for metadata (stream.CheckLogin).
// Any failure is returned naming the broker and the settings; fatal (see
// explain) when it is a setting error. No reachable broker is no error: the
// node retries its connections as the servers come up.
func (g *globals) checkKafkaLogin(cfg stream.Config) (fatal bool, _ error) {
	addr := reachable(cfg.Brokers, 3*time.Second)
	if addr == "" {
		return false, nil
	}
	cfg.SendTimeout = loginCheckTimeout
	if err := stream.CheckLogin(cfg, addr); err != nil {
		return explain("kafka", addr, g.kafkaFlags(), cfg.SASL, err)
	}
	return false, nil
}

// checkCassandraLogin is checkKafkaLogin for Cassandra: one connection to
// the first reachable contact point with cfg's TLS and login, and a query
// of system.local (store.CheckLogin).
func (g *globals) checkCassandraLogin(ctx context.Context, cfg store.Config) (fatal bool, _ error) {
	var addrs []string
	for _, h := range cfg.Hosts {
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "9042")
		}
		addrs = append(addrs, h)
	}
	addr := reachable(addrs, 3*time.Second)
	if addr == "" {
		return false, nil
	}
	cfg.ConnectTimeout, cfg.Timeout = loginCheckTimeout, loginCheckTimeout
	if err := store.CheckLogin(ctx, cfg, addr); err != nil {
		return explain("cassandra", addr, g.cassandraFlags(), cfg.Auth, err)
	}
	return false, nil
}
