package asn

import (
	"hash/maphash"
	"net/netip"
	"sync"
)

// cache is a bounded, direct-mapped cache of recent lookups, striped over
// mutexes so that Fluent Bit workers on several threads rarely contend.
// CloudTrail source addresses repeat heavily; a collision only costs a
// database lookup. Entries carry the database generation, so a reload
// invalidates them all at once.
type cache struct {
	seed   maphash.Seed
	stripe [cacheStripes]struct {
		mu sync.Mutex
		_  [56]byte // keep stripes on their own cache lines
	}
	slots []slot
	mask  uint64
}

const cacheStripes = 64

type slot struct {
	ip    netip.Addr
	info  Info
	gen   uint32
	found bool
	used  bool
}

func newCache(entries int) *cache {
	n := 1
	for n < entries {
		n <<= 1
	}
	n = max(n, cacheStripes)
	return &cache{seed: maphash.MakeSeed(), slots: make([]slot, n), mask: uint64(n - 1)}
}

func (c *cache) index(ip netip.Addr) uint64 {
	return maphash.Comparable(c.seed, ip) & c.mask
}

func (c *cache) get(ip netip.Addr, gen uint32) (info Info, found, ok bool) {
	i := c.index(ip)
	mu := &c.stripe[i%cacheStripes].mu
	mu.Lock()
	s := c.slots[i]
	mu.Unlock()
	if !s.used || s.gen != gen || s.ip != ip {
		return Info{}, false, false
	}
	return s.info, s.found, true
}

func (c *cache) put(ip netip.Addr, gen uint32, info Info, found bool) {
	i := c.index(ip)
	mu := &c.stripe[i%cacheStripes].mu
	mu.Lock()
	c.slots[i] = slot{ip: ip, info: info, gen: gen, found: found, used: true}
	mu.Unlock()
}
