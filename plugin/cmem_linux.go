package main

// #include <malloc.h>
import "C"

// releaseCMemory hands memory that pebble freed back to the system (see
// seen.Options.ReleaseCMemory): pebble allocates its blocks with C malloc,
// and glibc's per-thread arenas keep what it frees.
var releaseCMemory = func() { C.malloc_trim(0) }
