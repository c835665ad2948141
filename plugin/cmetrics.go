package main

/*
#include <stdlib.h>
#include "flbapi.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/newterms/newterms/internal/metrics"
)

// cmtPublisher shows an instance's series in Fluent Bit's own metrics:
// the instance's cmetrics context, which Fluent Bit exposes on its HTTP
// server (/api/v2/metrics/prometheus) and through the fluentbit_metrics
// input, beside its own series of the same instance.
//
// Every series is created in init, on Fluent Bit's thread: cmetrics before
// 2.x has no lock around the creation of a series, while the scraper may
// read. Later publishes only set values (atomics in cmetrics). Fluent Bit
// destroys the context right after the instance's exit callback returns,
// so close stops every publish before exit returns.
type cmtPublisher struct {
	mu     sync.Mutex
	closed bool
	layout *metrics.Layout
	series []C.struct_nt_series // C memory, as are their label values
	hist   []int                // indexes of the histograms
	values []C.double
	buf    []metrics.Value
	cmem   []unsafe.Pointer // freed at close
	bkts   *C.uint64_t      // the histogram's buckets, C memory
	nbkts  int
}

// newCmtPublisher creates the layout's series in cmt, labelled with the
// instance's name, and sets their first values.
func newCmtPublisher(cmt unsafe.Pointer, name string, layout *metrics.Layout, first *metrics.Snapshot) (p *cmtPublisher, err error) {
	p = &cmtPublisher{layout: layout}
	defer func() {
		if err != nil {
			p.free()
		}
	}()
	cstr := func(s string) *C.char {
		c := C.CString(s)
		p.cmem = append(p.cmem, unsafe.Pointer(c))
		return c
	}
	carray := func(ss []string) **C.char {
		arr := (**C.char)(C.calloc(C.size_t(max(len(ss), 1)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
		p.cmem = append(p.cmem, unsafe.Pointer(arr))
		s := unsafe.Slice(arr, max(len(ss), 1))
		for i, v := range ss {
			s[i] = cstr(v)
		}
		return arr
	}
	bounds := metrics.Bounds()
	cbounds := (*C.double)(C.calloc(C.size_t(len(bounds)), C.size_t(unsafe.Sizeof(C.double(0)))))
	defer C.free(unsafe.Pointer(cbounds))
	cb := unsafe.Slice(cbounds, len(bounds))
	for i, b := range bounds {
		cb[i] = C.double(b)
	}
	handles := map[*metrics.Family]unsafe.Pointer{}
	ns, sub := C.CString(metrics.Namespace), C.CString(metrics.Subsystem)
	defer C.free(unsafe.Pointer(ns))
	defer C.free(unsafe.Pointer(sub))
	for _, s := range layout.Series() {
		f := s.Family
		h, ok := handles[f]
		if !ok {
			keys := append([]string{metrics.InstanceLabel}, f.Labels...)
			fname, help := C.CString(metrics.Prefix+f.Name), C.CString(f.Help)
			ckeys := carray(keys)
			h = C.nt_metric_create(cmt, C.int(cmtType(f.Type)), ns, sub, fname, help, C.int(len(keys)), ckeys, cbounds, C.int(len(bounds)))
			C.free(unsafe.Pointer(fname))
			C.free(unsafe.Pointer(help))
			if h == nil {
				return nil, fmt.Errorf("creating %s in Fluent Bit's metrics failed", f.FullName())
			}
			handles[f] = h
		}
		labels := append([]string{name}, s.Labels...)
		if f.Type == metrics.Histogram {
			p.hist = append(p.hist, len(p.series))
		}
		p.series = append(p.series, C.struct_nt_series{metric: h, _type: C.int(cmtType(f.Type)), nlabels: C.int(len(labels)), labels: carray(labels)})
	}
	p.values = make([]C.double, len(p.series))
	p.nbkts = len(bounds) + 1
	p.bkts = (*C.uint64_t)(C.calloc(C.size_t(p.nbkts), C.size_t(unsafe.Sizeof(C.uint64_t(0)))))
	p.cmem = append(p.cmem, unsafe.Pointer(p.bkts))
	// The first set creates each series: here, on Fluent Bit's thread.
	if n := p.set(first); n > 0 {
		return nil, fmt.Errorf("the metrics context refused %d of %d series", n, len(p.series))
	}
	return p, nil
}

func cmtType(t metrics.Type) int {
	switch t {
	case metrics.Counter:
		return C.NT_COUNTER
	case metrics.Histogram:
		return C.NT_HISTOGRAM
	}
	return C.NT_GAUGE
}

// publish sets the series from a snapshot, unless closed.
func (p *cmtPublisher) publish(s *metrics.Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.set(s)
	}
}

// set writes the values and returns how many calls cmetrics refused.
func (p *cmtPublisher) set(s *metrics.Snapshot) int {
	p.buf = p.layout.Values(s, p.buf[:0])
	for i, v := range p.buf {
		p.values[i] = C.double(v.Number)
	}
	ts := C.uint64_t(s.At.UnixNano())
	refused := int(C.nt_publish(&p.series[0], C.int(len(p.series)), &p.values[0], ts))
	bk := unsafe.Slice(p.bkts, p.nbkts)
	for _, i := range p.hist {
		h := p.buf[i].Hist
		for j, c := range h.Cumulative {
			bk[j] = C.uint64_t(c)
		}
		bk[p.nbkts-1] = C.uint64_t(h.Count) // +Inf
		if C.nt_hist_set(&p.series[i], ts, p.bkts, C.double(h.Sum), C.uint64_t(h.Count)) != 0 {
			refused++
		}
	}
	return refused
}

// close publishes a last time and stops: after it returns, nothing
// touches the context Fluent Bit is about to destroy.
func (p *cmtPublisher) close(last *metrics.Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if last != nil {
		p.set(last)
	}
	p.closed = true
	p.free()
}

func (p *cmtPublisher) free() {
	for _, m := range p.cmem {
		C.free(m)
	}
	p.cmem, p.series = nil, nil
}

// errNoCmt says why Fluent Bit's metrics cannot be used.
type errNoCmt struct{ why string }

func (e errNoCmt) Error() string { return e.why }

// instanceCmt returns the instance's cmetrics context (host.c checks that
// the host's table holds what is relied on).
func instanceCmt(api, ins unsafe.Pointer) (unsafe.Pointer, error) {
	var why *C.char
	cmt := C.nt_cmt_instance(api, ins, &why)
	if cmt == nil {
		return nil, errNoCmt{C.GoString(why)}
	}
	return cmt, nil
}

// instanceName is the name label Fluent Bit gives the instance's own
// series (its alias, else newterms.N).
func instanceName(ins unsafe.Pointer) (string, error) {
	n := C.nt_output_name(ins)
	if n == nil {
		return "", errors.New("the host exports no flb_output_name")
	}
	return C.GoString(n), nil
}
