package prefilter

import "math/bits"

// trie finds every literal that begins at a place, four bytes a step, in
// one hash table: node n's edge on the next four bytes c is the entry
// (n, 4, c); a literal that ends 1-3 bytes past a node is an entry
// (n, r, those r bytes) to a leaf. Below a node that leads to one literal
// only, the rest of it is compared at once. A look costs a probe a step
// until the literals part ways, however many there are; most looks end at
// the root's first probe.
type trie struct {
	slots []slot // open addressing, at most half full
	shift uint8
	root  [2]uint32 // the roots' info (a slot's)
	outs  []int32   // the literals (indexes in Filter.lits) that end at nodes
}

// The roots: literals after a quote, and literals anywhere.
const (
	anchored int32 = 0
	anywhere int32 = 1
)

// slot is an edge and what the node it leads to holds: info is the
// node's tails (bit r: some literal ends r = 1..3 bytes past it), then
// how many literals end there (bits 4-7, at most two: a text is at most a
// rule's literal and an envelope key), then where they are in outs. With
// bit 0 (one), the node leads to one literal, outs[info>>8], which may end
// further down.
type slot struct {
	key  uint64 // 0: empty (edges have r >= 1)
	node int32
	info uint32
}

// one marks a node that leads to one literal.
const one = 1

func edge(n int32, r int, c uint32) uint64 {
	return uint64(n)<<35 | uint64(r)<<32 | uint64(c)
}

// chunk packs up to four bytes as binary.LittleEndian.Uint32 does four.
func chunk(b []byte) uint32 {
	var c uint32
	for i := len(b) - 1; i >= 0; i-- {
		c = c<<8 | uint32(b[i])
	}
	return c
}

const golden = 0x9e3779b97f4a7c15

// next is the slot of an edge, or nil.
func (t *trie) next(n int32, r int, c uint32) *slot {
	k := edge(n, r, c)
	mask := uint64(len(t.slots) - 1)
	for h := (k * golden) >> t.shift; ; h = (h + 1) & mask {
		s := &t.slots[h]
		if s.key == k {
			return s
		}
		if s.key == 0 {
			return nil
		}
	}
}

type trieBuilder struct {
	edges map[uint64]int32
	nodes []buildNode
}

type buildNode struct {
	tails uint32
	outs  []int32
}

// add files literal li under root.
func (b *trieBuilder) add(root int32, text string, li int32) {
	if b.edges == nil {
		b.edges = map[uint64]int32{}
		b.nodes = make([]buildNode, 2)
	}
	n, o := root, 0
	for ; o+4 <= len(text); o += 4 {
		n = b.child(n, 4, chunk([]byte(text[o:o+4])))
	}
	if r := len(text) - o; r > 0 {
		b.nodes[n].tails |= 1 << r
		n = b.child(n, r, chunk([]byte(text[o:])))
	}
	b.nodes[n].outs = append(b.nodes[n].outs, li)
}

func (b *trieBuilder) child(n int32, r int, c uint32) int32 {
	k := edge(n, r, c)
	if m, ok := b.edges[k]; ok {
		return m
	}
	m := int32(len(b.nodes))
	b.nodes = append(b.nodes, buildNode{})
	b.edges[k] = m
	return m
}

func (b *trieBuilder) build() trie {
	if b.nodes == nil {
		b.nodes = make([]buildNode, 2)
	}
	size := 16
	for size < 2*len(b.edges) {
		size *= 2
	}
	t := trie{slots: make([]slot, size), shift: uint8(64 - bits.TrailingZeros(uint(size)))}
	// below[n]: the literals in n's subtree, or one of them when it is the
	// only one (-1: none; -2: more).
	below := make([]int32, len(b.nodes))
	for i, n := range b.nodes {
		below[i] = -1
		if len(n.outs) == 1 {
			below[i] = n.outs[0]
		} else if len(n.outs) > 1 {
			below[i] = -2
		}
	}
	// Children come after their parents: fold them up from the last.
	parent := make([]int32, len(b.nodes))
	for k, m := range b.edges {
		parent[m] = int32(k >> 35)
	}
	for m := len(b.nodes) - 1; m >= 2; m-- {
		p := parent[m]
		switch {
		case below[m] == -1:
		case below[p] == -1:
			below[p] = below[m]
		default:
			below[p] = -2
		}
	}
	info := make([]uint32, len(b.nodes))
	for i, n := range b.nodes {
		if i >= 2 && below[i] >= 0 {
			info[i] = one | uint32(len(t.outs))<<8
			t.outs = append(t.outs, below[i])
			continue
		}
		info[i] = n.tails | uint32(len(n.outs))<<4 | uint32(len(t.outs))<<8
		t.outs = append(t.outs, n.outs...)
	}
	t.root = [2]uint32{info[anchored], info[anywhere]}
	mask := uint64(size - 1)
	for k, m := range b.edges {
		h := (k * golden) >> t.shift
		for t.slots[h].key != 0 {
			h = (h + 1) & mask
		}
		t.slots[h] = slot{k, m, info[m]}
	}
	return t
}
