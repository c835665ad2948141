//go:build !linux

package main

// releaseCMemory is nil where malloc_trim is not known to exist: the state
// then releases nothing.
var releaseCMemory func()
