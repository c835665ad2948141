// Package metrics names what newterms measures, in Prometheus terms, and
// maps a snapshot of its counters (engine.Counters, forward.Stats and the
// program's own) to series. It knows nothing of where they are shown: the
// plugin hands them to Fluent Bit's own metrics (plugin/), or serves them
// itself (Server, opt-in); the CLI prints them.
//
// The series of an instance are fixed when it starts (NewLayout): every
// label value (the rules, the kinds of bad record) is known then, and a
// snapshot only ever updates them. Fluent Bit's metrics library has no
// lock around the creation of a series in the versions tested, so the
// plugin creates all of them in its init.
package metrics

import (
	"math"
	"slices"
	"time"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/forward"
	"github.com/newterms/newterms/internal/version"
)

// Names are Namespace_Subsystem_Prefix + a family's Name, so that they sit
// beside Fluent Bit's own series of the same output instance, which share
// the InstanceLabel: fluentbit_output_proc_records_total{name="..."} and
// fluentbit_output_newterms_records_total{name="..."}.
const (
	Namespace     = "fluentbit"
	Subsystem     = "output"
	Prefix        = "newterms_"
	InstanceLabel = "name"
)

// Type is a metric's Prometheus type.
type Type int

const (
	Counter Type = iota
	Gauge
	Histogram
)

func (t Type) String() string {
	return [...]string{"counter", "gauge", "histogram"}[t]
}

// Family is one metric: a name, its meaning and its labels.
type Family struct {
	Name   string // after the prefix, e.g. records_total
	Help   string
	Type   Type
	Labels []string // label keys besides InstanceLabel
}

// FullName is the metric's name as exposed.
func (f *Family) FullName() string { return Namespace + "_" + Subsystem + "_" + Prefix + f.Name }

// The families, in the order they are exposed.
var (
	Records        = &Family{Name: "records_total", Type: Counter, Help: "Records received (from Fluent Bit, or read by replay)."}
	Prefiltered    = &Family{Name: "prefiltered_records_total", Type: Counter, Help: "Records skipped unparsed by the prefilter: they hold no literal any rule needs."}
	Events         = &Family{Name: "events_total", Type: Counter, Help: "CloudTrail events decoded from the records."}
	BadRecords     = &Family{Name: "bad_records_total", Type: Counter, Labels: []string{"kind"}, Help: "Bad records, or bad parts of records, skipped and counted, by kind."}
	NotEvents      = &Family{Name: "not_events_total", Type: Counter, Labels: []string{"kind"}, Help: "Inputs recognised and skipped as not events: CloudTrail Insights, digest files, S3 notifications, CloudWatch Logs control messages."}
	Matched        = &Family{Name: "matched_events_total", Type: Counter, Labels: []string{"rule_id", "rule"}, Help: "Events that matched each rule's query."}
	NoTime         = &Family{Name: "no_time_events_total", Type: Counter, Help: "Matching events without a usable eventTime: they give no tuple."}
	TuplesChecked  = &Family{Name: "tuples_checked_total", Type: Counter, Help: "Term tuples checked against the seen state."}
	NovelTuples    = &Family{Name: "novel_tuples_total", Type: Counter, Help: "Tuples not seen within their rule's window: alerted, suppressed while learning, or recorded as a baseline."}
	Alerts         = &Family{Name: "alerts_total", Type: Counter, Help: "Alerts put into the outbox."}
	Suppressed     = &Family{Name: "suppressed_learning_total", Type: Counter, Help: "Novel tuples that raised no alert because their rule was still learning (its state covers less than one window)."}
	TupleOverflow  = &Family{Name: "tuple_overflow_total", Type: Counter, Help: "Tuples over max_tuples from one event, dropped."}
	CacheHits      = &Family{Name: "cache_hits_total", Type: Counter, Help: "Tuple lookups answered by the hot cache."}
	StoreReads     = &Family{Name: "store_reads_total", Type: Counter, Help: "Tuple lookups read from the store (cache misses)."}
	CommitFailures = &Family{Name: "commit_failures_total", Type: Counter, Help: "Batches whose commit failed (a full disk, a store out of service); Fluent Bit retries their chunks."}
	Delivered      = &Family{Name: "delivered_alerts_total", Type: Counter, Help: "Alerts acknowledged by in_forward and removed from the outbox."}
	DeliveryFails  = &Family{Name: "delivery_failures_total", Type: Counter, Help: "Failed delivery attempts; each retry of an outage counts."}
	ASNReloads     = &Family{Name: "asn_reloads_total", Type: Counter, Help: "Replacements of the ASN database file put in service."}
	CommitLatency  = &Family{Name: "commit_duration_seconds", Type: Histogram, Help: "Duration of the seen state's commits: one atomic, synced write per batch."}
	Rules          = &Family{Name: "rules", Type: Gauge, Help: "Rules loaded."}
	OutboxAlerts   = &Family{Name: "outbox_alerts", Type: Gauge, Help: "Alerts waiting in the outbox for delivery."}
	OutboxBytes    = &Family{Name: "outbox_bytes", Type: Gauge, Help: "Bytes of the alerts waiting in the outbox."}
	OutboxAge      = &Family{Name: "outbox_oldest_age_seconds", Type: Gauge, Help: "Age of the oldest alert waiting in the outbox; 0 when it is empty."}
	Held           = &Family{Name: "held_events", Type: Gauge, Help: "Events held for ordering (max_lateness)."}
	CacheHitRatio  = &Family{Name: "cache_hit_ratio", Type: Gauge, Help: "Share of tuple lookups answered by the hot cache since the start."}
	DeliveryFail   = &Family{Name: "delivery_failing", Type: Gauge, Help: "1 while delivery fails and backs off, else 0."}
	StateSize      = &Family{Name: "state_size_bytes", Type: Gauge, Help: "The seen state's size on disk."}
	ASNBuild       = &Family{Name: "asn_database_build_timestamp_seconds", Type: Gauge, Help: "Build time of the ASN database in service, in Unix seconds."}
	BuildInfo      = &Family{Name: "build_info", Type: Gauge, Labels: []string{"version", "commit", "go_version"}, Help: "The newterms build: always 1."}
)

// Families are every family, in the order they are exposed.
func Families() []*Family {
	return []*Family{Records, Prefiltered, Events, BadRecords, NotEvents, Matched, NoTime, TuplesChecked,
		NovelTuples, Alerts, Suppressed, TupleOverflow, CacheHits, StoreReads, CommitFailures, Delivered,
		DeliveryFails, ASNReloads, CommitLatency, Rules, OutboxAlerts, OutboxBytes, OutboxAge, Held,
		CacheHitRatio, DeliveryFail, StateSize, ASNBuild, BuildInfo}
}

// The kinds of bad_records_total: the decoder's, then records whose work
// panicked, records the program could not read (not a record, no text),
// and any kind a later decoder adds.
const (
	KindPanic      = "panic"
	KindUnreadable = "unreadable"
	KindOther      = "other"
)

var badKinds = []string{
	string(cloudtrail.ErrTooLarge), string(cloudtrail.ErrJSON), string(cloudtrail.ErrUTF8),
	string(cloudtrail.ErrBase64), string(cloudtrail.ErrGzip), string(cloudtrail.ErrType),
	string(cloudtrail.ErrShape), string(cloudtrail.ErrNesting), KindPanic, KindUnreadable, KindOther,
}

// BadKinds are the label values of bad_records_total.
func BadKinds() []string { return slices.Clone(badKinds) }

// Snapshot is everything measured at one time.
type Snapshot struct {
	Engine  engine.Counters
	Forward forward.Stats
	// Unreadable counts records the program could not hand to the engine.
	Unreadable int64
	// CommitFailures counts batches whose commit failed.
	CommitFailures int64
	// Problems name conditions under way that stop the work (Health).
	Problems []string
	At       time.Time
}

// Value is one series' value: Number, or Hist for a histogram.
type Value struct {
	Number float64
	Hist   *Hist
}

// Hist is a histogram's state: Cumulative[i] observations up to Bounds[i],
// Count over all.
type Hist struct {
	Bounds     []float64
	Cumulative []uint64
	Sum        float64
	Count      uint64
}

// Series is one series of an instance: its family and its label values
// (those of Family.Labels, in order).
type Series struct {
	Family *Family
	Labels []string
}

// Layout is the fixed set of an instance's series.
type Layout struct {
	series   []Series
	rules    []engine.RuleCount // at init: whose matched_events_total series exist
	stateOK  bool               // the state's size is known
	asn      bool               // an ASN database is configured
	build    version.Info
	families map[*Family]bool // those with series
}

// NewLayout fixes an instance's series from its first snapshot: its rules,
// whether the state can tell its size, whether an ASN database is set.
func NewLayout(first *Snapshot, build version.Info) *Layout {
	l := &Layout{rules: slices.Clone(first.Engine.Matched), stateOK: first.Engine.StateBytes >= 0,
		asn: first.Engine.ASN.Schema != "", build: build, families: map[*Family]bool{}}
	l.walk(first, func(f *Family, labels []string, _ Value) {
		l.series = append(l.series, Series{f, labels})
		l.families[f] = true
	})
	return l
}

// Series are the instance's series, in a fixed order.
func (l *Layout) Series() []Series { return l.series }

// Values are the snapshot's values of the layout's series, in the order
// of Series, appended to out.
func (l *Layout) Values(s *Snapshot, out []Value) []Value {
	l.walk(s, func(_ *Family, _ []string, v Value) { out = append(out, v) })
	return out
}

// walk is the mapping from a snapshot to series: the one place that says
// which counter each series shows. It emits the same series, in the same
// order, for every snapshot of one layout.
func (l *Layout) walk(s *Snapshot, emit func(*Family, []string, Value)) {
	c := &s.Engine
	n := func(f *Family, v float64, labels ...string) { emit(f, labels, Value{Number: v}) }
	i := func(f *Family, v int64, labels ...string) { n(f, float64(v), labels...) }
	i(Records, c.Records)
	i(Prefiltered, c.Prefiltered)
	i(Events, c.Events)
	bad := map[string]int64{KindPanic: c.Panics, KindUnreadable: s.Unreadable}
	for k, v := range c.ParseErrors {
		if slices.Contains(badKinds, k) {
			bad[k] += v
		} else {
			bad[KindOther] += v
		}
	}
	for _, k := range badKinds {
		i(BadRecords, bad[k], k)
	}
	i(NotEvents, c.Insights, "insights")
	i(NotEvents, c.Digests, "digest")
	i(NotEvents, c.Notifications, "notification")
	i(NotEvents, c.Control, "control")
	for _, r := range l.rules {
		var events int64
		if j := slices.IndexFunc(c.Matched, func(m engine.RuleCount) bool { return m.Key == r.Key }); j >= 0 {
			events = c.Matched[j].Events
		}
		i(Matched, events, r.ID, r.Name)
	}
	i(NoTime, c.NoTime)
	i(TuplesChecked, c.TuplesChecked)
	i(NovelTuples, c.Novel+c.SuppressedLearning+c.Backfilled)
	i(Alerts, c.Alerts)
	i(Suppressed, c.SuppressedLearning)
	i(TupleOverflow, c.TupleOverflow)
	i(CacheHits, c.CacheHits)
	i(StoreReads, c.StoreReads)
	i(CommitFailures, s.CommitFailures)
	i(Delivered, s.Forward.Delivered)
	i(DeliveryFails, s.Forward.Failures)
	if l.asn {
		i(ASNReloads, int64(c.ASN.Reloads))
	}
	emit(CommitLatency, nil, Value{Hist: commitHist(c)})
	i(Rules, int64(c.Rules))
	i(OutboxAlerts, c.OutboxAlerts)
	i(OutboxBytes, c.OutboxBytes)
	age := 0.0
	if !c.OutboxOldest.IsZero() && s.At.After(c.OutboxOldest) {
		age = s.At.Sub(c.OutboxOldest).Seconds()
	}
	n(OutboxAge, age)
	i(Held, c.Held)
	n(CacheHitRatio, c.CacheHitRatio)
	failing := 0.0
	if s.Forward.Failing {
		failing = 1
	}
	n(DeliveryFail, failing)
	if l.stateOK {
		size := math.NaN() // out of service for now
		if c.StateBytes >= 0 {
			size = float64(c.StateBytes)
		}
		n(StateSize, size)
	}
	if l.asn {
		build := 0.0
		if !c.ASN.BuildTime.IsZero() {
			build = float64(c.ASN.BuildTime.Unix())
		}
		n(ASNBuild, build)
	}
	n(BuildInfo, 1, l.build.Version, l.build.Commit, l.build.Go)
}

// Bounds are the upper bounds of commit_duration_seconds, in seconds.
func Bounds() []float64 {
	b := make([]float64, len(engine.CommitBuckets))
	for i, d := range engine.CommitBuckets {
		b[i] = d.Seconds()
	}
	return b
}

func commitHist(c *engine.Counters) *Hist {
	h := &Hist{Bounds: Bounds(), Sum: c.CommitTotal.Seconds()}
	var cum uint64
	for j := range engine.CommitBuckets {
		cum += uint64(c.CommitLatency[j])
		h.Cumulative = append(h.Cumulative, cum)
	}
	h.Count = cum + uint64(c.CommitLatency[len(engine.CommitBuckets)])
	return h
}
