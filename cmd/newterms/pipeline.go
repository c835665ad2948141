package main

import (
	"io"
	"slices"
	"sync"

	"github.com/newterms/newterms/internal/engine"
)

const (
	// replayBatch is how many records make one engine batch (one commit).
	replayBatch = 2000
	// batchBytes ends a batch early when its records are large, so that
	// the batches in flight stay within a bounded memory.
	batchBytes = 4 << 20
)

// batch is a run of records read for one engine batch, and the memory they
// live in; the pipeline recycles a fixed number of them.
type batch struct {
	seq   int // its place in the input
	arena []byte
	ends  []int  // where each record ends in arena
	units []unit // where each came from (data unset)
	recs  []engine.Record
	prep  *engine.Prepared
}

func (b *batch) reset(seq int) {
	b.seq, b.arena, b.ends, b.units, b.prep = seq, b.arena[:0], b.ends[:0], b.units[:0], nil
}

func (b *batch) add(u unit) {
	b.arena = append(b.arena, u.data...)
	b.ends = append(b.ends, len(b.arena))
	u.data = nil
	b.units = append(b.units, u)
}

func (b *batch) full() bool { return len(b.ends) >= replayBatch || len(b.arena) >= batchBytes }

// seal makes the records, once the arena no longer moves.
func (b *batch) seal() {
	b.recs = b.recs[:0]
	start := 0
	for _, end := range b.ends {
		b.recs = append(b.recs, engine.Record{Data: b.arena[start:end:end]})
		start = end
	}
}

// pipeline reads the inputs into batches on one goroutine, prepares them
// (decode, enrich, match) on workers goroutines, and hands them to commit
// one at a time, in input order, on the calling goroutine: the commits,
// and so the decisions, alerts and counters, are those of one worker.
// At most 2*workers+2 batches exist, which bounds the memory.
type pipeline struct {
	eng     *engine.Engine
	workers int
	rd      *reader
}

// run stops at the first error commit returns, which it returns; else
// the inputs' read error, if any. No batch is prepared once it returns
// (the reader may still be blocked in a read of its own).
func (p *pipeline) run(paths []string, stdin io.Reader, commit func(*batch) error) error {
	n := max(p.workers, 1)
	total := 2*n + 2
	free := make(chan *batch, total)
	for range total {
		free <- &batch{}
	}
	work := make(chan *batch, n)
	done := make(chan *batch, total) // never blocks: it holds every batch
	quit := make(chan struct{})
	var readErr error
	go func() {
		defer close(work)
		seq := 0
		var cur *batch
		get := func() bool {
			select {
			case cur = <-free:
				cur.reset(seq)
				seq++
				return true
			case <-quit:
				return false
			}
		}
		send := func() bool {
			cur.seal()
			select {
			case work <- cur:
				cur = nil
				return true
			case <-quit:
				return false
			}
		}
		if !get() {
			return
		}
		readErr = p.rd.readInputs(paths, stdin, func(u unit) bool {
			cur.add(u)
			return !cur.full() || send() && get()
		})
		if cur != nil && len(cur.ends) > 0 {
			send()
		}
	}()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// After an error, the workers stop without waiting for the
			// reader, which may be blocked reading stdin.
			for {
				select {
				case b, ok := <-work:
					if !ok {
						return
					}
					b.prep = p.eng.Prepare(slices.Values(b.recs))
					done <- b
				case <-quit:
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	pending := map[int]*batch{}
	next := 0
	var err error
	for b := range done {
		pending[b.seq] = b
		for err == nil {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err = commit(b); err != nil {
				close(quit)
			}
			free <- b
		}
	}
	if err != nil {
		return err
	}
	return readErr
}
