package seen

import (
	"errors"
	"fmt"
)

// Copied counts what Copy wrote.
type Copied struct {
	Rules, Tuples, Alerts, Other int
}

// copyBatch is how many keys go into one commit of a copy.
const copyBatch = 1000

// Copy writes every record of src into dst, which must hold no state:
// migrating an embedded state to a shared one, or back. Rule records go
// first (a shared store sets each tuple's TTL from its rule's window);
// alerts waiting in an outbox are numbered again by a shared destination.
// A state holding events for ordering (max_lateness) cannot go to a
// shared store: release them first (newterms replay ends by releasing).
func Copy(dst, src Store) (Copied, error) {
	var n Copied
	empty := true
	scan := func(st Store, prefix []byte, fn func(k, v []byte) bool) error {
		if sh, ok := st.(Shared); ok {
			return sh.ScanUnordered(prefix, fn)
		}
		return st.Scan(prefix, fn)
	}
	if err := scan(dst, nil, func(k, _ []byte) bool { empty = false; return false }); err != nil {
		return n, fmt.Errorf("copy: destination: %w", err)
	}
	if !empty {
		return n, errors.New("copy: the destination holds a state already: copy into an empty one")
	}
	shared, _ := dst.(Shared)
	var w Writes
	var alerts [][]byte
	flush := func() error {
		if w.Len() == 0 && len(alerts) == 0 {
			return nil
		}
		var err error
		if len(alerts) > 0 {
			_, err = shared.Commit(&Commit{Writes: w, Alerts: alerts})
		} else {
			err = dst.Apply(&w)
		}
		w, alerts = Writes{}, nil
		return err
	}
	var failed error
	visit := func(k, v []byte) bool {
		switch {
		case k[0] == prefixHeld && shared != nil:
			failed = errors.New("copy: the state holds events for ordering (max_lateness), which a shared state cannot: decide them first (newterms replay releases them at its end)")
			return false
		case k[0] == prefixOutbox && len(k) == 9 && shared != nil:
			alerts = append(alerts, append([]byte(nil), v...))
			n.Alerts++
		default:
			w.Set(k, v)
			switch {
			case k[0] == prefixRule:
				n.Rules++
			case k[0] == prefixTuple:
				n.Tuples++
			case k[0] == prefixOutbox:
				n.Alerts++
			default:
				n.Other++
			}
		}
		if w.Len()+len(alerts) >= copyBatch {
			if failed = flush(); failed != nil {
				return false
			}
		}
		return true
	}
	// Rules first, then everything else.
	if err := scan(src, []byte{prefixRule}, visit); err != nil || failed != nil {
		return n, fmt.Errorf("copy: %w", errors.Join(err, failed))
	}
	if failed = flush(); failed != nil {
		return n, fmt.Errorf("copy: %w", failed)
	}
	err := scan(src, nil, func(k, v []byte) bool {
		if len(k) > 0 && k[0] == prefixRule {
			return true
		}
		return visit(k, v)
	})
	if err != nil || failed != nil {
		return n, fmt.Errorf("copy: %w", errors.Join(err, failed))
	}
	if err := flush(); err != nil {
		return n, fmt.Errorf("copy: %w", err)
	}
	return n, nil
}
