package testsupport

import (
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// Gunzip reads a gzip file of the repository's test data whole, failing
// the test when it cannot.
func Gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
