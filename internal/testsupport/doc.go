// Package testsupport is for tests only. It finds the files shared beside
// the repository (Elastic's fixtures and rules, Fluent Bit binaries), which
// are never copied into it, and counts the cases of conformance suites, so
// that a green run which skipped them shows it.
//
// A test that reads the shared directory calls Shared; when the path is
// absent, the test skips with one line naming what is missing, and a
// package whose tests all miss the same directory says so once.
//
// A conformance suite (a test that checks newterms against something
// outside it: Elastic's expected documents, real Fluent Bit, a store
// implementation against the seen.Store contract) calls Conformance, then
// Case for each of its cases (usually each subtest), and Skip or
// Suite.Shared for what it cannot run. When the test ends, the suite's
// count, e.g. "conformance cloudtrail/elastic-pipeline: 23 cases, 23
// passed", is logged and appended to the file named by
// NEWTERMS_CONFORMANCE_LOG; `make test` prints that file. Go's test cache
// counts a file the test opens inside the module as an input, so with the
// log there (build/conformance.txt) a package that reports to it is run
// again each time, never replayed from the cache without its line.
package testsupport
