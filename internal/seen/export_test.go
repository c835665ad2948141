package seen

// OpenPebble opens the embedded store alone, for the conformance suite
// (package seen_test: seentest imports seen).
func OpenPebble(dir string) (Store, error) { return openPebble(dir, nil, nil, nil) }
