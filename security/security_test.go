package security

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadCredentials(t *testing.T) {
	c, err := ReadCredentials(write(t, "ok", "stocksys:pa:ss\n"))
	if err != nil || c.User != "stocksys" || c.Password != "pa:ss" {
		t.Fatalf("ReadCredentials = %+v, %v; want stocksys / pa:ss", c, err)
	}
	for _, tc := range []struct{ content, want string }{
		{"nocolon\n", "found no ':'"},
		{":pw\n", "empty user or password"},
		{"user:\n", "empty user or password"},
		{"us er:pw\n", "the user holds blanks"},
		{"a:b\nc:d\n", "several lines"},
	} {
		p := write(t, "bad", tc.content)
		_, err := ReadCredentials(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("ReadCredentials(%q) error %v; want one naming %s and %q", tc.content, err, p, tc.want)
		}
		if err != nil && strings.Contains(tc.content, "pw") && strings.Contains(err.Error(), "pw") {
			t.Errorf("error %q shows the file's content", err)
		}
	}
	if _, err := ReadCredentials(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v; want not-exist", err)
	}
}

func TestCredentialsNeverPrintPassword(t *testing.T) {
	c := Credentials{User: "stocksys", Password: "s3cret-pw"}
	j, err := json.Marshal(struct{ Login Credentials }{c})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(&c), string(j)} {
		if strings.Contains(s, "s3cret-pw") || !strings.Contains(s, "stocksys") {
			t.Errorf("%q: want the user and never the password", s)
		}
	}
}

// caOf writes the PEM of srv's certificate (httptest's self-signed one,
// valid for 127.0.0.1, ::1 and example.com) as a CA file.
func caOf(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return write(t, "ca.pem", string(b))
}

func TestClientTLSVerifiesCAAndHost(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	cfg, err := ClientTLS(caOf(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.InsecureSkipVerify {
		t.Fatalf("ClientTLS: MinVersion %x InsecureSkipVerify %v; want TLS 1.2, verification on", cfg.MinVersion, cfg.InsecureSkipVerify)
	}
	// Its CA and a name in its certificate: the handshake succeeds.
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, cfg)
	if err != nil {
		t.Fatalf("handshake with the right CA and address: %v", err)
	}
	conn.Close()
	// A name the certificate does not hold: refused, a TLS error.
	if _, err := tls.Dial("tcp", "localhost:"+port, cfg); err == nil || !IsTLSError(err) {
		t.Errorf("handshake as localhost (not in the certificate): %v; want a TLS host name error", err)
	}
	// The system's roots do not know httptest's certificate.
	sys, err := ClientTLS("")
	if err != nil || sys.RootCAs != nil {
		t.Fatalf("ClientTLS(\"\") = %v, %v; want the system roots", sys, err)
	}
	if _, err := tls.Dial("tcp", "127.0.0.1:"+port, sys); err == nil || !IsTLSError(err) {
		t.Errorf("handshake without the CA: %v; want an unknown authority", err)
	}
	// A plaintext server is a TLS error too (first record not a handshake).
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	if _, err := tls.Dial("tcp", plain.Listener.Addr().String(), cfg); err == nil || !IsTLSError(err) {
		t.Errorf("TLS to a plaintext server: %v; want a TLS error", err)
	}
}

func TestClientTLSBadFiles(t *testing.T) {
	if _, err := ClientTLS(filepath.Join(t.TempDir(), "none.pem")); !os.IsNotExist(err) {
		t.Errorf("missing CA file: %v; want not-exist", err)
	}
	p := write(t, "key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	if _, err := ClientTLS(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("CA file without a certificate: %v; want an error naming it", err)
	}
	p = write(t, "bad.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	if _, err := ClientTLS(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("corrupt certificate: %v; want an error naming the file", err)
	}
}

// TestSCRAMClientAgainstServer runs SCRAMClient's conversation against
// xdg-go/scram's server side (RFC 5802) holding the user's stored
// credentials: the right password completes it (the server's signature is
// checked, Done), a wrong one is refused by the server.
func TestSCRAMClientAgainstServer(t *testing.T) {
	kf := scram.KeyFactors{Salt: "c2FsdHNhbHQ=", Iters: 4096}
	client, err := scram.SHA512.NewClient("stocksys", "right-pw", "")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := client.GetStoredCredentialsWithError(kf)
	if err != nil {
		t.Fatal(err)
	}
	server, err := scram.SHA512.NewServer(func(user string) (scram.StoredCredentials, error) {
		if user != "stocksys" {
			return scram.StoredCredentials{}, fmt.Errorf("unknown user %q", user)
		}
		return creds, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func(password string) error {
		var c SCRAMClient
		if err := c.Begin("stocksys", password, ""); err != nil {
			return err
		}
		conv := server.NewConversation()
		msg, err := c.Step("")
		for !c.Done() {
			if err != nil {
				return err
			}
			var reply string
			if reply, err = conv.Step(msg); err != nil {
				return fmt.Errorf("server: %w", err)
			}
			msg, err = c.Step(reply)
		}
		if err != nil {
			return err
		}
		if !conv.Valid() {
			return fmt.Errorf("server conversation not valid")
		}
		return nil
	}
	if err := run("right-pw"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := run("wrong-pw"); err == nil || !strings.Contains(err.Error(), "server") {
		t.Errorf("wrong password: %v; want the server to refuse", err)
	}
}
