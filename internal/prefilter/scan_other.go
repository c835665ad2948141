//go:build !amd64

package prefilter

// Only amd64 has the vector scan; elsewhere the quote loop does it all.
var haveSIMD = false

func scanAVX2(*teddy, []byte, []uint64) (int, bool) {
	panic("prefilter: no vector scan on this architecture")
}
