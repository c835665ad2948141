//go:build cgo && linux

package main

// #include <malloc.h>
import "C"

// releaseCMemory hands memory that pebble freed back to the system (see
// seen.Options.ReleaseCMemory): a replay's long compactions churn C memory
// that glibc's per-thread arenas would otherwise keep.
var releaseCMemory = func() { C.malloc_trim(0) }
