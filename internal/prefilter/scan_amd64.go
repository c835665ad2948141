package prefilter

import "golang.org/x/sys/cpu"

var haveSIMD = cpu.X86.HasAVX2

//go:noescape
func scanAVX2(t *teddy, b []byte, masks []uint64) (rounds int, esc bool)
