package ports

import (
	"os"
	"testing"
)

func TestParseRange(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Range
		wantErr bool
	}{
		{"32768\t60999\n", Range{32768, 60999}, false},
		{"1024 65535", Range{1024, 65535}, false},
		{"40000 40000", Range{40000, 40000}, false},
		{"", Range{}, true},
		{"32768", Range{}, true},
		{"60999 32768", Range{}, true},
		{"0 100", Range{}, true},
		{"1 70000", Range{}, true},
		{"a b", Range{}, true},
	} {
		got, err := ParseRange(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRange(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestContains(t *testing.T) {
	r := Range{32768, 60999}
	for port, want := range map[int]bool{32767: false, 32768: true, 46206: true, 60999: true, 61000: false, 8081: false} {
		if got := r.Contains(port); got != want {
			t.Errorf("%v.Contains(%d) = %v; want %v", r, port, got, want)
		}
	}
}

// TestEphemeral reads this machine's range: the file's content when it is
// there, LinuxDefault with an error when not.
func TestEphemeral(t *testing.T) {
	r, err := Ephemeral()
	data, rerr := os.ReadFile(RangeFile)
	if rerr != nil {
		if err == nil || r != LinuxDefault {
			t.Fatalf("Ephemeral() = %v, %v without %s; want LinuxDefault and an error", r, err, RangeFile)
		}
		return
	}
	want, perr := ParseRange(string(data))
	if perr != nil || err != nil || r != want {
		t.Fatalf("Ephemeral() = %v, %v; %s says %q", r, err, RangeFile, data)
	}
	t.Logf("ephemeral range %v", r)
}
