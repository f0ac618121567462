package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/security"
)

func TestTLSFlagsLoad(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "kafka.auth")
	if err := os.WriteFile(auth, []byte("stocksys:hunter2-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Nothing set: plaintext, no login.
	if tc, cr, err := (tlsFlags{kind: "kafka"}).load(); tc != nil || cr != nil || err != nil {
		t.Errorf("no flags: %v %v %v; want plaintext, no login", tc, cr, err)
	}
	// --kafka-tls alone: TLS with the system roots.
	if tc, _, err := (tlsFlags{kind: "kafka", tls: true}).load(); err != nil || tc == nil || tc.RootCAs != nil || tc.InsecureSkipVerify {
		t.Errorf("--kafka-tls: %+v %v; want TLS with system roots, verified", tc, err)
	}
	f := tlsFlags{kind: "kafka", authFile: auth}
	_, cr, err := f.load()
	if err != nil || cr == nil || cr.User != "stocksys" || cr.Password != "hunter2-secret" {
		t.Fatalf("--kafka-auth-file: %v %v", cr, err)
	}
	hint := f.settingsHint(cr)
	if strings.Contains(hint, "hunter2") || !strings.Contains(hint, "--kafka-auth-file "+auth) || !strings.Contains(hint, "user stocksys") {
		t.Errorf("settingsHint %q: want the file and user, never the password", hint)
	}
	// Bad files are named with the flag.
	missing := filepath.Join(dir, "none.pem")
	if _, _, err := (tlsFlags{kind: "cassandra", caFile: missing}).load(); err == nil || !strings.HasPrefix(err.Error(), "--cassandra-ca-file: open "+missing) {
		t.Errorf("missing CA: %v", err)
	}
	if _, _, err := (tlsFlags{kind: "cassandra", authFile: missing}).load(); err == nil || !strings.HasPrefix(err.Error(), "--cassandra-auth-file: open "+missing) {
		t.Errorf("missing auth file: %v", err)
	}
}

func TestExplainFatalOrNot(t *testing.T) {
	if fatal, err := explain("cassandra", "h:9042", tlsFlags{kind: "cassandra"}, &security.Credentials{User: "u", Password: "p"},
		errors.New("Provided username u and/or password are incorrect")); !fatal || !strings.Contains(err.Error(), "the login was refused: wrong user or password") {
		t.Errorf("refused Cassandra login: fatal %v, %v", fatal, err)
	}
	plain := tlsFlags{kind: "kafka"}
	withTLS := tlsFlags{kind: "kafka", caFile: "ca.pem"}
	for _, tc := range []struct {
		name  string
		f     tlsFlags
		err   error
		fatal bool
		cause string
	}{
		{"no login given", withTLS, sarama.ErrSASLAuthenticationFailed, true, "the server wants a login"},
		{"plaintext to TLS", plain, io.ErrUnexpectedEOF, true, "it may want TLS"},
		{"EOF with TLS on", withTLS, io.EOF, false, "no answer yet"},
		{"x509", withTLS, errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), true, "the TLS handshake failed"},
		{"timeout", withTLS, errors.New("i/o timeout"), false, "no answer yet"},
	} {
		fatal, err := explain("kafka", "127.0.0.1:9092", tc.f, nil, tc.err)
		if tc.name == "x509" {
			// and with a login: the same, its user named
			fatal, err = explain("kafka", "127.0.0.1:9092", tc.f, &security.Credentials{User: "u", Password: "p4ss"}, tc.err)
			if strings.Contains(err.Error(), "p4ss") || !strings.Contains(err.Error(), "user u") {
				t.Errorf("%v: want the user, never the password", err)
			}
		}
		if fatal != tc.fatal || !strings.Contains(err.Error(), tc.cause) || !strings.HasPrefix(err.Error(), "kafka 127.0.0.1:9092: ") || !errors.Is(err, tc.err) {
			t.Errorf("%s: fatal %v, %v; want fatal %v and %q naming the server, wrapping the cause", tc.name, fatal, err, tc.fatal, tc.cause)
		}
	}
}
