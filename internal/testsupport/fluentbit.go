package testsupport

import (
	"os"
	"path/filepath"
)

// FluentBitEnv names the Fluent Bit executables to run instead of the
// shared directory's: files, directories (their fluent-bit-*) or globs,
// separated as in PATH.
const FluentBitEnv = "NEWTERMS_FLUENT_BIT"

// FluentBits are the executables FluentBitEnv names, else those matching
// the glob fallback gives (called only then), in name order; where says
// where it looked.
func FluentBits(fallback func() string) (paths []string, where string) {
	var patterns []string
	if v := os.Getenv(FluentBitEnv); v != "" {
		where = FluentBitEnv + "=" + v
		for _, p := range filepath.SplitList(v) {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				p = filepath.Join(p, "fluent-bit-*")
			}
			patterns = append(patterns, p)
		}
	} else {
		where = fallback()
		patterns = []string{where}
	}
	for _, pat := range patterns {
		matches, _ := filepath.Glob(pat) // sorted; a bad pattern matches nothing
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				paths = append(paths, m)
			}
		}
	}
	return paths, where
}
