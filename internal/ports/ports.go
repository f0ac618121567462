// Package ports knows the kernel's ephemeral port range: the local ports it
// gives outgoing connections (and listeners on port 0). A server listening on
// a fixed port inside that range can find it taken by a client connection
// (`bind: address already in use`), so default ports stay out of it.
package ports

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RangeFile is where Linux exposes the ephemeral port range ("lo\thi").
const RangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Range is an inclusive range of ports.
type Range struct{ Lo, Hi int }

// LinuxDefault is Linux's default ephemeral range, used when RangeFile
// cannot be read (another OS, a sandbox without /proc).
var LinuxDefault = Range{32768, 60999}

// Contains reports whether port is in r.
func (r Range) Contains(port int) bool { return port >= r.Lo && port <= r.Hi }

// String is "lo-hi".
func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Lo, r.Hi) }

// Ephemeral returns the ephemeral port range read from RangeFile at call
// time, or LinuxDefault with the read or parse error if it cannot be read.
func Ephemeral() (Range, error) {
	data, err := os.ReadFile(RangeFile)
	if err != nil {
		return LinuxDefault, err
	}
	r, err := ParseRange(string(data))
	if err != nil {
		return LinuxDefault, fmt.Errorf("%s: %w", RangeFile, err)
	}
	return r, nil
}

// ParseRange parses the content of RangeFile: two port numbers separated by
// white space, lo <= hi.
func ParseRange(s string) (Range, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Range{}, fmt.Errorf("ports: range %q: want two port numbers", s)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return Range{}, fmt.Errorf("ports: range %q: want lo <= hi in 1..65535", s)
	}
	return Range{lo, hi}, nil
}
