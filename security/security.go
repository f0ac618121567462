package security

import (
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/xdg-go/scram"
)

// Credentials are a user and its password (Kafka SASL/SCRAM, Cassandra
// PasswordAuthenticator). String, GoString and MarshalText show the user
// alone, so that logs, errors and --dry-run output never hold a password.
type Credentials struct {
	User, Password string
}

// String returns "user <User>" (never the password).
func (c Credentials) String() string { return "user " + c.User }

// GoString is String, so %#v redacts the password too.
func (c Credentials) GoString() string { return c.String() }

// MarshalText is String, so JSON and YAML encoders redact the password.
func (c Credentials) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// ReadUserPassword reads a "user:password" line from the file at path (one
// line; a trailing newline is dropped; the password may hold ':'). Errors
// name the file and what is wrong, never its content: a missing or
// unreadable file, no ':', an empty user or password, a user with blanks, a
// second line.
func ReadUserPassword(path string) (user, password string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	s := strings.TrimRight(string(data), "\r\n")
	if strings.ContainsAny(s, "\r\n") {
		return "", "", fmt.Errorf("%s: want one line user:password, found several lines", path)
	}
	user, password, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return "", "", fmt.Errorf("%s: want user:password, found no ':'", path)
	case user == "" || password == "":
		return "", "", fmt.Errorf("%s: want user:password, found an empty user or password", path)
	case strings.ContainsAny(user, " \t"):
		return "", "", fmt.Errorf("%s: the user holds blanks", path)
	}
	return user, password, nil
}

// ReadCredentials is ReadUserPassword returning Credentials.
func ReadCredentials(path string) (Credentials, error) {
	u, p, err := ReadUserPassword(path)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{User: u, Password: p}, nil
}

// ClientTLS returns the TLS settings of a client that verifies its servers:
// TLS 1.2 or later, certificates checked against the PEM CA bundle in
// caFile (the system's roots when caFile is ""), and the server's host name
// or IP address checked against its certificate (crypto/tls sets ServerName
// from the address dialled; Kafka's ssl.endpoint.identification.algorithm
// https, gocql's EnableHostVerification). Errors name caFile: unreadable, or
// holding no PEM certificate.
func ClientTLS(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", caFile, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate (want a CA bundle: -----BEGIN CERTIFICATE-----)", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// IsTLSError reports whether err is a failed TLS handshake on the client's
// side: an unknown authority, a name or IP address not in the server's
// certificate, an expired certificate, or a server that does not speak TLS.
func IsTLSError(err error) bool {
	var (
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
		cv *tls.CertificateVerificationError
		rh tls.RecordHeaderError
		ae tls.AlertError
	)
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cv) ||
		errors.As(err, &rh) || errors.As(err, &ae)
}

// SCRAMClient is the client side of a SCRAM-SHA-512 conversation for
// sarama (sarama.SCRAMClient; set it with SCRAMClientGeneratorFunc:
// func() sarama.SCRAMClient { return &security.SCRAMClient{} }). A
// conversation is not safe for concurrent use; sarama makes one per
// connection.
type SCRAMClient struct {
	conv *scram.ClientConversation
}

// Begin starts a conversation for user and password (authzID: the
// authorisation identity, "" for the user itself).
func (c *SCRAMClient) Begin(user, password, authzID string) error {
	cl, err := scram.HashGeneratorFcn(sha512.New).NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = cl.NewConversation()
	return nil
}

// Step answers the server's challenge.
func (c *SCRAMClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

// Done reports whether the conversation is over (the server's signature
// checked).
func (c *SCRAMClient) Done() bool { return c.conv.Done() }
