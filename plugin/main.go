// Command plugin is the Fluent Bit output plugin, built with
// -buildmode=c-shared into out_newterms.so. It is a thin shell: Fluent Bit's
// calls come in here and go straight to internal packages. No panic may
// cross back into Fluent Bit, so every export recovers.
package main

/*
#include <stdlib.h>
#include "flbapi.h"
*/
import "C"

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/flb"
	"github.com/newterms/newterms/internal/forward"
	"github.com/newterms/newterms/internal/logx"
	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/version"
)

// exitFlushTimeout bounds the attempt to deliver the outbox at exit; what
// is left goes out at the next start.
const exitFlushTimeout = 5 * time.Second

// instance is the state of one [OUTPUT] section.
type instance struct {
	cfg    config.Config
	eng    *engine.Engine
	sender *forward.Sender
	stop   context.CancelFunc
	done   chan struct{}
	heap   int64 // this instance's share of the Go heap limit
	// released is closed when the idle release (max_lateness) has stopped.
	released chan struct{}
	// commits is a failing state commit, logged once until one succeeds.
	commits logx.Condition
	retried atomic.Int64
	api     unsafe.Pointer // Fluent Bit's struct flb_api, for logging
	ins     unsafe.Pointer // the flb_output_instance
	ops     *ops           // metrics and the summary line
	key     unsafe.Pointer // the context key Fluent Bit hands back

	// Counted here, beside the engine's counters: records that never
	// reached the engine, and batches whose commit failed.
	unreadable, commitFailures atomic.Int64
}

// log is the instance's logx.Func: logx's levels are Fluent Bit's.
func (in *instance) log(l logx.Level, format string, args ...any) { in.logf(C.int(l), format, args...) }

func (in *instance) logf(level C.int, format string, args ...any) {
	var api, ins unsafe.Pointer
	if in != nil {
		api, ins = in.api, in.ins
	}
	msg := C.CString(fmt.Sprintf(format, args...))
	C.nt_log(api, ins, level, msg)
	C.free(unsafe.Pointer(msg))
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (rc int) {
	defer guard(nil, "register", &rc)
	if rc = output.FLBPluginRegister(def, "newterms", "First-seen (New Terms) detection on AWS CloudTrail"); rc == 0 {
		registerKeys(def)
	}
	return rc
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (rc int) {
	in := &instance{api: C.nt_api(plugin), ins: C.nt_ins(plugin)}
	defer guard(in, "init", &rc)
	get := func(key string) string { return output.FLBPluginConfigKey(plugin, key) }
	cfg, err := config.FromLookup(config.Plugin, get)
	if err == nil {
		err = check(cfg, get("match"))
	}
	if err != nil {
		in.logErrors(err)
		return output.FLB_ERROR
	}
	in.cfg = cfg
	in.heap = seen.HeapShare(cfg.Engine.CacheSize)
	reserveHeap(in.heap)
	defer func() {
		if rc != output.FLB_OK {
			reserveHeap(-in.heap)
		}
	}()
	in.eng, err = engine.New(cfg.Engine, engine.Options{Log: in.log, ReleaseCMemory: releaseCMemory})
	if err != nil {
		in.logErrors(err)
		return output.FLB_ERROR
	}
	rep := in.eng.Report()
	for _, s := range rep.Skipped {
		in.logf(C.NT_LOG_INFO, "rule skipped: %s: %q: %s", s.File, s.Name, s.Reason)
	}
	for _, n := range rep.Notes {
		in.logf(C.NT_LOG_WARN, "%s", n)
	}
	fwd := cfg.Forward
	fwd.Log = in.log
	// Part of the exit's bound: what is in flight at exit may still be
	// acknowledged, rather than sent again at the next start.
	fwd.StopGrace = exitFlushTimeout / 2
	in.sender, err = forward.New(in.eng.State(), fwd)
	if err != nil {
		in.eng.Close()
		in.logf(C.NT_LOG_ERROR, "%v", err)
		return output.FLB_ERROR
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.stop, in.done = cancel, make(chan struct{})
	go func() {
		defer close(in.done)
		defer guard(in, "sender", new(int))
		in.sender.Run(ctx)
	}()
	if cfg.Engine.MaxLateness > 0 {
		in.released = make(chan struct{})
		go in.releaseIdle(ctx, cfg.Engine.MaxLateness)
	}
	// Last, as it is what the host destroys right after a failed init.
	fb := hostVersion()
	in.logf(C.NT_LOG_INFO, "%s in Fluent Bit %s; %s", version.Get(), cmp.Or(fb, "(version unknown)"), keysReport(fb))
	in.logf(C.NT_LOG_DEBUG, "%s", runtimeFigures())
	if in.ops, err = in.startOps(in.api, in.ins); err != nil {
		in.stopSender()
		in.eng.Close()
		in.logf(C.NT_LOG_ERROR, "%v", err)
		return output.FLB_ERROR
	}
	n, _ := in.eng.State().OutboxSize()
	state := cfg.Engine.StateDir
	if cfg.Engine.StateBackend == engine.BackendRedis {
		state = fmt.Sprintf("shared on %s (prefix %s)", seen.RedactAddress(cfg.Engine.Redis.Address), cfg.Engine.Redis.KeyPrefix)
	}
	in.logf(C.NT_LOG_INFO, "%d rules, state %s, alerts to %s as %s (%d waiting from before)",
		len(in.eng.Rules().Rules()), state, cfg.Forward.Address, cfg.Forward.Tag, n)
	setContext(plugin, in)
	return output.FLB_OK
}

// stopSender ends the sender and the idle release of an instance whose
// init fails after they started.
func (in *instance) stopSender() {
	in.stop()
	if in.released != nil {
		<-in.released
	}
	<-in.done
}

// logErrors logs each part of a joined error (every bad key of a
// configuration) as its own line, so that each carries the instance's
// prefix in Fluent Bit's log.
func (in *instance) logErrors(err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			in.logErrors(e)
		}
		return
	}
	in.logf(C.NT_LOG_ERROR, "%v", err)
}

// releaseIdle decides, now and then, the held events of rules whose
// newest event time has stood still for the reorder window of wall-clock
// time: a quiet stream or a rarely matching rule must not hold an alert
// until its next event. At exit nothing is released: held events are
// durable and carry on after the restart.
func (in *instance) releaseIdle(ctx context.Context, window time.Duration) {
	defer close(in.released)
	defer guard(in, "release", new(int))
	t := time.NewTicker(max(window/4, time.Second))
	defer t.Stop()
	var failed logx.Condition
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := in.eng.ReleaseIdle()
			if err != nil {
				failed.Fail(in.log, "deciding held events of idle rules: %v", err)
				continue
			}
			failed.Clear(in.log, "held events of idle rules are decided again")
			if n > 0 {
				in.sender.Notify()
			}
		}
	}
}

// check holds what only the plugin can see: that the instance does not
// match its own alerts (match is Fluent Bit's key, not the plugin's).
func check(cfg config.Config, match string) error {
	if match != "" && config.MatchCatches(match, cfg.Forward.Tag) {
		return fmt.Errorf("config: match %q catches this instance's own alert tag %q: alerts would loop back into it", match, cfg.Forward.Tag)
	}
	return nil
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.size_t, tag *C.char) (rc int) {
	in, ok := getContext(ctx)
	defer guard(in, "flush", &rc)
	if !ok {
		in.logf(C.NT_LOG_ERROR, "flush for an instance that did not initialise")
		return output.FLB_ERROR
	}
	// The chunk is Fluent Bit's memory, valid during this call only: the
	// engine reads it in place and copies only what goes into state and
	// alerts.
	chunk := unsafe.Slice((*byte)(data), int(length))
	return in.flush(chunk)
}

func (in *instance) flush(chunk []byte) int {
	bad, n := 0, 0
	var firstBad, err error
	// The engine pulls records as the chunk is decoded, so each record is
	// read whole while its bytes are in cache.
	recs := func(yield func(engine.Record) bool) {
		_, err = flb.Each(chunk, func(r flb.Record) {
			text, err := in.text(r)
			if err != nil {
				bad++
				firstBad = cmpErr(firstBad, err)
				return
			}
			n++
			yield(engine.Record{Data: text}) // the engine takes every record
		}, func(off int, err error) {
			bad++
			firstBad = cmpErr(firstBad, fmt.Errorf("at byte %d: %w", off, err))
		})
	}
	res, perr := in.eng.ProcessSeq(recs)
	if err != nil && n == 0 {
		in.logf(C.NT_LOG_ERROR, "dropping a chunk of %d bytes that can never be read: %v", len(chunk), err)
		in.unreadable.Add(int64(bad + 1))
		return output.FLB_ERROR
	}
	if err != nil {
		bad++
		firstBad = cmpErr(firstBad, err)
	}
	if perr != nil {
		in.commitFailures.Add(1)
		in.retried.Add(1)
		if !errors.Is(perr, seen.ErrFailed) { // the store reports those itself
			in.commits.Fail(in.log, "state commit failed, chunks are retried until it succeeds: %v", perr)
		}
		return output.FLB_RETRY
	}
	if in.commits.Failing() {
		in.commits.Clear(in.log, "state commits go on (%d chunks were retried)", in.retried.Swap(0))
	}
	in.unreadable.Add(int64(bad)) // so far, the records the engine never saw
	for _, e := range res.Errors {
		bad++
		firstBad = cmpErr(firstBad, e)
	}
	if bad > 0 {
		in.logf(C.NT_LOG_WARN, "%d bad records skipped in a chunk, the first: %v", bad, firstBad)
	}
	if res.Alerts > 0 {
		in.sender.Notify()
	}
	return output.FLB_OK
}

// text is a record's CloudTrail text: under a record key, or the record
// itself as JSON. A panic here costs the record, not the chunk (the
// engine guards its own work the same way).
func (in *instance) text(r flb.Record) (text []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = engine.PanicError{Value: v}
		}
	}()
	text, found, err := flb.Text(r.Body, in.cfg.Engine.RecordKeys)
	if err == nil && !found {
		text, err = flb.AppendJSON(nil, r.Body)
	}
	return text, err
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) (rc int) {
	in, ok := getContext(ctx)
	defer guard(in, "exit", &rc)
	if !ok {
		return output.FLB_OK
	}
	// Exit is bounded in every state of the sender: it stops within its
	// grace when told, and all of it, the last delivery attempt included,
	// fits in exitFlushTimeout.
	deadline := time.Now().Add(exitFlushTimeout)
	in.stop()
	if in.released != nil {
		<-in.released // a release in progress is one bounded commit
	}
	select {
	case <-in.done:
		if n, err := in.sender.Flush(time.Until(deadline)); err != nil {
			in.logf(C.NT_LOG_WARN, "at exit: %d alerts delivered; %v; the rest go out at the next start", n, err)
		}
	case <-time.After(time.Until(deadline)):
		in.logf(C.NT_LOG_ERROR, "at exit: the alert sender did not stop within %s; undelivered alerts go out at the next start", exitFlushTimeout)
	}
	// Before the state closes (a snapshot reads it) and before exit
	// returns (Fluent Bit then destroys the instance's metrics).
	last := in.ops.close()
	st := last.Engine
	in.logf(C.NT_LOG_INFO, "exit: %d records, %d events, %d alerts, %d suppressed while learning, %d delivered",
		st.Records, st.Events, st.Alerts, st.SuppressedLearning, last.Forward.Delivered)
	if err := in.eng.Close(); err != nil {
		in.logf(C.NT_LOG_ERROR, "closing the state: %v", err)
	}
	reserveHeap(-in.heap)
	dropContext(in)
	// The process outlives the instance (a hot reload starts the next in
	// it): hand back now what it freed, Go heap and pebble's C memory,
	// rather than let it pile up reload after reload.
	debug.FreeOSMemory()
	releaseCMemory()
	return output.FLB_OK
}

// contexts are the running instances, by the key Fluent Bit hands back to
// FlushCtx and ExitCtx. fluent-bit-go's FLBPluginSetContext keeps every
// context in a map of its own for the life of the process, with no way to
// drop one: each hot reload would keep the old instance, its cache and
// its buffers (13.5 MiB of heap a reload, measured by e2e.TestHotReload).
var contexts sync.Map

// setContext hands Fluent Bit the instance's key (a byte of C memory, as
// fluent-bit-go does, so that the key is unique and no Go pointer goes to
// C).
func setContext(plugin unsafe.Pointer, in *instance) {
	in.key = C.malloc(1)
	contexts.Store(uintptr(in.key), in)
	C.nt_set_context(plugin, in.key)
}

func getContext(ctx unsafe.Pointer) (*instance, bool) {
	v, ok := contexts.Load(uintptr(ctx))
	if !ok {
		return nil, false
	}
	return v.(*instance), true
}

// dropContext forgets an instance at its exit.
func dropContext(in *instance) {
	contexts.Delete(uintptr(in.key))
	C.free(in.key)
}

// heapShares is the sum of the running instances' heap shares. Instances
// come and go with hot reloads in one process: each gives its share back
// at exit, so the limit does not grow from reload to reload.
var heapShares atomic.Int64

// reserveHeap adds (or, negative, gives back) a share of the Go runtime's
// soft memory limit. GOMEMLIMIT, when set, wins.
func reserveHeap(n int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := heapShares.Add(n)
	if limit <= 0 {
		limit = math.MaxInt64 // no instance: no limit, as before the first
	}
	debug.SetMemoryLimit(limit)
}

// guard turns a panic into a logged FLB_ERROR.
func guard(in *instance, where string, rc *int) {
	if r := recover(); r != nil {
		in.logf(C.NT_LOG_ERROR, "panic in %s: %v\n%s", where, r, debug.Stack())
		*rc = output.FLB_ERROR
	}
}

func main() {}
