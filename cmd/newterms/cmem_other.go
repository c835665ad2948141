//go:build !(cgo && linux)

package main

// releaseCMemory is nil without cgo, or off Linux: the state then releases
// nothing.
var releaseCMemory func()
