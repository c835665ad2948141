package prefilter

import "golang.org/x/sys/cpu"

var haveSIMD = cpu.X86.HasAVX2

//go:noescape
func scanAVX2(t *nibbles, b []byte) (off int, mask uint64, esc bool)
