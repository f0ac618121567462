package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedData returns the path of rel inside the real-data folder: STOCKSYS_DATA
// if set, else ../shared/data beside the repository root (the folder holding
// go.mod). When the file is missing the test is skipped, or fails under CI=true.
func SharedData(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("STOCKSYS_DATA")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "data")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		msg := "real data not found (set STOCKSYS_DATA): " + err.Error()
		if InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// RepoRoot returns the repository root: the nearest parent of the working
// directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// SharedFixture returns the path of rel inside the recorded API responses:
// STOCKSYS_FIXTURES if set, else ../shared/fixtures beside the repository
// root. Like SharedData, it skips when the file is missing, and fails under
// CI=true.
func SharedFixture(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("STOCKSYS_FIXTURES")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "fixtures")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		msg := "recorded fixture not found (set STOCKSYS_FIXTURES): " + err.Error()
		if InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}
