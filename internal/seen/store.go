package seen

// Store is the durable key-value store under the seen state. The embedded
// default is pebble; a shared Redis-protocol store can implement the same
// four operations (GET, MULTI/EXEC, SCAN) for several Fluent Bit nodes.
type Store interface {
	// Get returns a copy of the value at key; found is false when absent.
	Get(key []byte) (val []byte, found bool, err error)
	// Apply writes all sets and deletes atomically and durably.
	Apply(w *Writes) error
	// Scan calls fn for each key with the prefix, in key order, until fn
	// returns false. Key and value are valid only during the call.
	Scan(prefix []byte, fn func(key, val []byte) bool) error
	// ScanFrom is Scan from the first key at or after start: a reader that
	// resumes where it stopped seeks past what it read, and past the
	// deletion tombstones there, instead of stepping over them.
	ScanFrom(prefix, start []byte, fn func(key, val []byte) bool) error
	Close() error
}

// Writes is one atomic commit.
type Writes struct {
	sets    [][2][]byte
	deletes [][]byte
}

// Set records a write of key (copied).
func (w *Writes) Set(key, val []byte) {
	w.sets = append(w.sets, [2][]byte{append([]byte(nil), key...), append([]byte(nil), val...)})
}

// Delete records a deletion of key (copied).
func (w *Writes) Delete(key []byte) { w.deletes = append(w.deletes, append([]byte(nil), key...)) }

// Each visits the sets, then the deletes (for Store implementations).
func (w *Writes) Each(fn func(key, val []byte, del bool)) {
	for _, kv := range w.sets {
		fn(kv[0], kv[1], false)
	}
	for _, k := range w.deletes {
		fn(k, nil, true)
	}
}

// Len is the number of operations.
func (w *Writes) Len() int { return len(w.sets) + len(w.deletes) }

// prefixEnd is the smallest key after every key with the prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
