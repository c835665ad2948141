package seen

// Alert is one outbox entry: an alert document waiting for delivery.
type Alert struct {
	Seq uint64
	Doc []byte
}

// Outbox lists up to max alerts after seq, in order (max <= 0: all).
func (s *State) Outbox(after uint64, max int) ([]Alert, error) {
	var out []Alert
	start := outboxKey(after + 1)
	err := s.store.Scan([]byte{prefixOutbox}, func(k, v []byte) bool {
		if string(k) < string(start) {
			return true
		}
		out = append(out, Alert{Seq: bytesToU64(k[1:]), Doc: append([]byte(nil), v...)})
		return max <= 0 || len(out) < max
	})
	return out, err
}

// Delete removes delivered alerts from the outbox, durably.
func (s *State) Delete(alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	var w Writes
	var bytes int64
	for _, a := range alerts {
		w.Delete(outboxKey(a.Seq))
		bytes += int64(len(a.Doc))
	}
	if err := s.store.Apply(&w); err != nil {
		return err
	}
	s.outboxCount.Add(-int64(len(alerts)))
	s.outboxBytes.Add(-bytes)
	return nil
}

// OutboxSize is the number of alerts waiting and their bytes.
func (s *State) OutboxSize() (count, bytes int64) {
	return s.outboxCount.Load(), s.outboxBytes.Load()
}
