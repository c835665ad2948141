// Package e2e runs the built plugin (build/out_newterms.so) inside real
// Fluent Bit binaries: a seeded CloudTrail stream goes in through tail,
// alerts come back through in_forward into a file output, and the tests
// compare them with the oracle (internal/synth) while Fluent Bit is killed,
// reloaded, starved of disk or cut off from its receiver.
//
// The binaries come from NEWTERMS_FLUENT_BIT (a path, or a list separated
// by colons; a directory stands for the fluent-bit-* files in it), else
// from fluent-bit/fluent-bit-* in the shared test files
// (internal/testsupport); without any, the tests skip. Every test runs
// once per binary, as a subtest named by its version, a case of the
// test's conformance count.
package e2e
