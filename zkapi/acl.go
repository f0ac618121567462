package zkapi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/stock-system/stocksys/security"
)

// Credentials is a ZooKeeper identity of the "digest" scheme (ZooKeeper
// Programmer's Guide, "Builtin ACL Schemes"): the client authenticates with
// user:password, and an ACL names it as user:base64(SHA-1(user:password))
// (DigestAuthenticationProvider; zk.DigestACL). Its String never shows the
// password.
type Credentials struct {
	User, Password string
}

// String returns "digest:<user>" (the password is never printed).
func (c Credentials) String() string { return "digest:" + c.User }

// GoString is String, so %#v redacts the password too.
func (c Credentials) GoString() string { return c.String() }

// ReadCredentials reads a "user:password" identity from the file at path
// (one line; a trailing newline is dropped; the password may hold ':').
// Errors name the file and what is wrong, never its content: a missing or
// unreadable file, an empty user or password, a user with ':' or blanks, a
// second line.
func ReadCredentials(path string) (Credentials, error) {
	user, pass, err := security.ReadUserPassword(path)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{User: user, Password: pass}, nil
}

// Authenticate adds c to the connection's identities (ZooKeeper addAuth,
// scheme digest); go-zookeeper re-sends it after every reconnect. A digest
// identity is always accepted by the server: a wrong password shows later,
// as ErrNoAuth on the first znode its ACLs deny.
func Authenticate(conn *zk.Conn, c Credentials) error {
	if err := conn.AddAuth("digest", []byte(c.User+":"+c.Password)); err != nil {
		return fmt.Errorf("zookeeper: add auth %s: %w", c, err)
	}
	return nil
}

// ClusterACL is the ACL of a secured cluster's znodes: the cluster's
// identity has every permission; reader, when given, may only read, and
// nobody else may do anything; without a reader anyone may read (ZooKeeper's
// READ_ACL_UNSAFE beside the writer) so that `stocksys status` needs no
// credentials.
func ClusterACL(writer Credentials, reader *Credentials) []ACL {
	acl := zk.DigestACL(zk.PermAll, writer.User, writer.Password)
	if reader != nil {
		return append(acl, zk.DigestACL(zk.PermRead, reader.User, reader.Password)...)
	}
	return append(acl, zk.WorldACL(zk.PermRead)...)
}

// WithACL returns c with every znode it creates at or under root (Create,
// and the CreateRequests of a Multi) given acl instead of the ACL the
// caller passed, so that the cluster's packages, which pass OpenACL, create
// a secured cluster's znodes with its ClusterACL. Znodes outside root (the
// /stocksys parent that all clusters share) keep the caller's ACL, so one
// cluster's identity never locks another out. A nil or empty acl returns c
// itself. Safe for concurrent use when c is.
func WithACL(c Conn, root string, acl []ACL) Conn {
	if len(acl) == 0 {
		return c
	}
	return aclConn{Conn: c, root: strings.TrimSuffix(root, "/"), acl: acl}
}

type aclConn struct {
	Conn
	root string
	acl  []ACL
}

// under reports whether p is the root or below it.
func (a aclConn) under(p string) bool {
	return p == a.root || strings.HasPrefix(p, a.root+"/") || a.root == ""
}

func (a aclConn) Create(path string, data []byte, flags int32, acl []ACL) (string, error) {
	if a.under(path) {
		acl = a.acl
	}
	return a.Conn.Create(path, data, flags, acl)
}

func (a aclConn) Multi(ops ...any) ([]MultiResponse, error) {
	out := make([]any, len(ops))
	for i, op := range ops {
		if cr, ok := op.(*CreateRequest); ok && a.under(cr.Path) {
			c := *cr
			c.Acl = a.acl
			op = &c
		}
		out[i] = op
	}
	return a.Conn.Multi(out...)
}

// NoAuthHint wraps an ErrNoAuth from a secured cluster's first writes with
// what to check: the setting (a flag name) holding identity, and the
// servers. Other errors are returned as they are.
func NoAuthHint(err error, servers []string, setting string, identity *Credentials) error {
	if !errors.Is(err, ErrNoAuth) {
		return err
	}
	if identity == nil {
		return fmt.Errorf("zookeeper %v: not authorised (the cluster's znodes have ACLs: give its identity with %s): %w",
			servers, setting, err)
	}
	return fmt.Errorf("zookeeper %v: %s: identity %s is not allowed (wrong password, or the cluster was created by another identity): %w",
		servers, setting, identity, err)
}
