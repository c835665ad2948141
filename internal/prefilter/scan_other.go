//go:build !amd64

package prefilter

// Only amd64 has the vector scan; elsewhere the quote loop does it all.
var haveSIMD = false

func scanAVX2(*nibbles, []byte) (int, uint64, bool) {
	panic("prefilter: no vector scan on this architecture")
}
