package main

/*
#include "flbapi.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/newterms/newterms/internal/metrics"
	"github.com/newterms/newterms/internal/version"
)

// publishInterval is how often an instance's series in Fluent Bit's
// metrics are brought up to date (Fluent Bit's own scrape interval for
// the fluentbit_metrics input defaults to 2 s).
const publishInterval = time.Second

// endpoint is the process's own Prometheus endpoint (metrics_listen),
// shared by its instances and closed with the last of them.
var endpoint metrics.Shared

// unnamed numbers instances whose name Fluent Bit cannot tell us.
var unnamed atomic.Int64

// ops is what an instance shows of itself: its series in Fluent Bit's
// metrics or on its own endpoint, and the periodic summary line.
type ops struct {
	in     *instance
	layout *metrics.Layout
	cmt    *cmtPublisher
	leave  func() // leaves the own endpoint
	stop   chan struct{}
	done   chan struct{}

	mu     sync.Mutex // snapshots: none is taken once closed
	closed bool
	last   metrics.Snapshot
}

// startOps runs last in init. The own endpoint, asked for explicitly, is
// an init error when it cannot listen; Fluent Bit's metrics are used
// where the host provably offers them, and only reported otherwise.
func (in *instance) startOps(api, ins unsafe.Pointer) (*ops, error) {
	o := &ops{in: in, stop: make(chan struct{}), done: make(chan struct{})}
	first := o.snapshot()
	o.layout = metrics.NewLayout(&first, version.Get())
	name, nameErr := instanceName(ins)
	if nameErr != nil {
		name = fmt.Sprintf("newterms.%d", unnamed.Add(1)-1)
	}
	if addr := in.cfg.Metrics.Listen; addr != "" {
		leave, served, err := endpoint.Join(addr, &metrics.Source{Name: name, Layout: o.layout, Snapshot: o.snapshot})
		if err != nil {
			return nil, err
		}
		o.leave = leave
		in.logf(C.NT_LOG_INFO, "metrics: on http://%s/metrics (and /healthz) as name=%q", served, name)
	}
	cmt, err := instanceCmt(api, ins)
	if err == nil {
		err = nameErr
	}
	if err == nil {
		o.cmt, err = newCmtPublisher(cmt, name, o.layout, &first)
	}
	switch {
	case err == nil:
		in.logf(C.NT_LOG_INFO, "metrics: in Fluent Bit's own metrics as %s_*{name=%q} (/api/v2/metrics/prometheus, fluentbit_metrics)",
			metrics.Namespace+"_"+metrics.Subsystem+"_"+metrics.Prefix[:len(metrics.Prefix)-1], name)
	case o.leave != nil:
		in.logf(C.NT_LOG_INFO, "metrics: not in Fluent Bit's own metrics: %v", err)
	default:
		in.logf(C.NT_LOG_WARN, "metrics: not in Fluent Bit's own metrics: %v; set metrics_listen for an endpoint of the plugin's own", err)
	}
	go o.run()
	return o, nil
}

// snapshot measures the instance now; once the instance is closing, it
// gives the last measure, so that a scrape in flight never reads a closed
// state.
func (o *ops) snapshot() metrics.Snapshot {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return o.last
	}
	in := o.in
	s := metrics.Snapshot{Engine: in.eng.Stats(), Forward: in.sender.Stats(), Unreadable: in.unreadable.Load(),
		CommitFailures: in.commitFailures.Load(), At: time.Now()}
	if in.commits.Failing() {
		s.Problems = append(s.Problems, "state commits failing: chunks are retried until they succeed")
	}
	o.last = s
	return s
}

// run publishes to Fluent Bit's metrics and logs the summary until close.
func (o *ops) run() {
	defer close(o.done)
	defer guard(o.in, "metrics", new(int))
	var publish, summary <-chan time.Time
	if o.cmt != nil {
		t := time.NewTicker(publishInterval)
		defer t.Stop()
		publish = t.C
	}
	prev := o.snapshot()
	if d := o.in.cfg.Metrics.SummaryInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		summary = t.C
	}
	for {
		select {
		case <-o.stop:
			return
		case <-publish:
			s := o.snapshot()
			o.cmt.publish(&s)
		case <-summary:
			s := o.snapshot()
			o.in.logf(C.NT_LOG_INFO, "summary: %s", metrics.Summary(&prev, &s))
			prev = s
		}
	}
}

// close stops everything before the instance's exit returns: Fluent Bit
// destroys the instance's metrics context right after. It returns the
// last snapshot.
func (o *ops) close() metrics.Snapshot {
	close(o.stop)
	<-o.done
	last := o.snapshot()
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	if o.leave != nil {
		o.leave()
	}
	if o.cmt != nil {
		o.cmt.close(&last)
	}
	return last
}

// runtimeFigures are what a reload must not leak: goroutines, open files
// and the Go heap, logged at debug level at each init.
func runtimeFigures() string {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds := -1
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents)
	}
	return fmt.Sprintf("runtime: goroutines=%d open_files=%d heap_inuse=%d", runtime.NumGoroutine(), fds, ms.HeapInuse)
}
