package prefilter

// teddy holds the vector scan's tables (scan_amd64.s). A literal's
// fingerprint is its first bytes, after the quote that opens it when it
// begins a JSON string, the rest of a shorter one any byte. For the k-th
// byte of a place, tables[2k] and tables[2k+1] map its low and high nibble
// to the buckets (bits) whose fingerprints have that nibble there; a
// place is a candidate when, for some bucket, all its nibbles are in it.
// Byte 0 is a quote, exactly, for the buckets in anchored; the byte-0
// tables hold only the literals that may sit anywhere, and are looked up
// only when there are some (subs). Each 16-byte table is written twice,
// once per 128-bit lane.
type teddy struct {
	tables   [2 * teddyBytes][32]byte
	anchored [32]byte
	quote    [32]byte
	subs     bool
}

// teddyBytes is the length of a fingerprint; scan_amd64.s is written for
// four.
const teddyBytes = 4

// fingerprint is a literal's first bytes (-1: any byte), and whether it
// follows a quote (then byte 0 is that quote).
type fingerprint struct {
	anchored bool
	bytes    [teddyBytes]int
}

func fingerprintOf(s string, anchored bool) fingerprint {
	p := fingerprint{anchored: anchored}
	if anchored {
		s = `"` + s
	}
	for k := range p.bytes {
		p.bytes[k] = -1
		if k < len(s) {
			p.bytes[k] = int(s[k])
		}
	}
	return p
}

// add puts a fingerprint into bucket (0..7).
func (t *teddy) add(p fingerprint, bucket int) {
	bit := byte(1) << bucket
	for k, c := range p.bytes {
		lo, hi := &t.tables[2*k], &t.tables[2*k+1]
		switch {
		case k == 0 && p.anchored:
			for i := range t.anchored {
				t.anchored[i] |= bit
			}
		case c < 0:
			for i := range lo {
				lo[i] |= bit
				hi[i] |= bit
			}
		default:
			lo[c&15] |= bit
			lo[16+c&15] |= bit
			hi[c>>4] |= bit
			hi[16+c>>4] |= bit
		}
	}
	if !p.anchored {
		t.subs = true
	}
}

// fill puts each fingerprint in the bucket it adds the fewest passes to:
// a bucket lets through every place whose nibbles it holds, so unlike
// fingerprints sharing one pass mixtures neither has ("sig" and "mes" pass
// "ses"). Shared round robin, the seed rules and the envelope keys stopped
// the scan at every "session".
func (t *teddy) fill(prints []fingerprint) {
	for i := range t.quote {
		t.quote[i] = '"'
	}
	var alone [8]teddy // each bucket's fingerprints in bucket 0 of a table
	for _, p := range prints {
		best, least := 0, -1
		for b := range alone {
			u := alone[b]
			u.add(p, 0)
			if more := passes(&u) - passes(&alone[b]); least < 0 || more < least {
				best, least = b, more
			}
		}
		alone[best].add(p, 0)
		t.add(p, best)
	}
}

// passes counts the places of printable bytes bucket 0 of t lets through.
func passes(t *teddy) int {
	n := 1
	for k := range teddyBytes {
		c := 0
		for ch := 0x20; ch < 0x7f; ch++ {
			if t.tables[2*k][ch&15]&1 != 0 && t.tables[2*k+1][ch>>4]&1 != 0 || k == 0 && ch == '"' && t.anchored[0]&1 != 0 {
				c++
			}
		}
		n *= c
	}
	return n
}
