package metrics

import "math"

// Map is the snapshot's series as JSON-ready data, under the families'
// names (without the prefix): a number for a family without labels, a
// list of {label: value..., "value": n} for one with labels, and
// {"count", "sum", "buckets": [{"le", "count"}...]} for a histogram. The
// CLI prints it (replay --summary json).
func (l *Layout) Map(s *Snapshot) map[string]any {
	out := map[string]any{}
	values := l.Values(s, nil)
	for j, ser := range l.series {
		v := values[j]
		f := ser.Family
		switch {
		case f.Type == Histogram:
			var buckets []map[string]any
			for k, b := range v.Hist.Bounds {
				buckets = append(buckets, map[string]any{"le": b, "count": v.Hist.Cumulative[k]})
			}
			out[f.Name] = map[string]any{"count": v.Hist.Count, "sum": v.Hist.Sum, "buckets": buckets}
		case len(f.Labels) > 0:
			item := map[string]any{"value": number(v.Number)}
			for k, name := range f.Labels {
				item[name] = ser.Labels[k]
			}
			list, _ := out[f.Name].([]map[string]any)
			out[f.Name] = append(list, item)
		default:
			out[f.Name] = number(v.Number)
		}
	}
	return out
}

// number is a value JSON can carry: whole numbers as integers, NaN (a
// size that cannot be told now) as null.
func number(v float64) any {
	switch {
	case math.IsNaN(v):
		return nil
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return int64(v)
	}
	return v
}
