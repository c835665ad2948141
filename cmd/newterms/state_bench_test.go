package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/seen/seentest"
)

var (
	benchRule = seen.Rule{Key: "bench:1", Name: "bench", Window: 10 * 24 * time.Hour}
	t0        = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
)

func openBench(b *testing.B, dir string, srv *seentest.RedisServer) *seen.State {
	b.Helper()
	o := seen.Options{Dir: dir, CompactInterval: -1, ReleaseCMemory: releaseCMemory}
	if srv != nil {
		st, err := seen.OpenRedis(seen.RedisOptions{Address: srv.Addr(), KeyPrefix: "bench", Timeout: time.Minute}) // the load's commits are of 10,000 tuples
		if err != nil {
			b.Fatal(err)
		}
		o.Store = st
	}
	s, err := seen.Open(o)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// roundTrips counts a shared store's calls to its server.
type roundTrips interface{ RoundTrips() int64 }

// BenchmarkState measures the seen state at scale as the programs run it,
// with their ReleaseCMemory (cgo stays out of internal/, so this lives
// here: without malloc_trim, RSS at a million tuples ran 40-70 MiB
// higher). It loads NEWTERMS_BENCH_TUPLES tuples (default 1,000,000; the
// issue's figure is 10,000,000) and reports load time, size on disk, RSS,
// reopen time to the first check, then a mixed stream (95% known, 5% new,
// batches of 1,000) with Zipf-skewed and uniform choices of known tuples,
// with the process's CPU time a check and what the hot cache holds.
// The stream first runs NEWTERMS_BENCH_WARM batches untimed (default
// 1,000), so that the figures are of a warm cache, not of one filling.
// NEWTERMS_BENCH_STATE names a state directory to use instead of a fresh
// one: when it is absent, it is loaded and kept (a copy of it then spares
// the next run the load; runs change the state they use). The Go heap is
// limited as the plugin limits it (HeapShare).
//
// NEWTERMS_BENCH_BACKEND=redis runs it on a shared state instead: a
// redis-server of the benchmark's own (appendonly, appendfsync
// everysec, or NEWTERMS_BENCH_FSYNC), on a unix socket; it also reports
// the server's memory per tuple (with the TTLs the store sets, and
// without), the calls to the server per batch and the server's CPU per
// batch. Each batch's CPU (cpu-µs/batch: the process's, user and system)
// is the figure to compare on a shared machine.
func BenchmarkState(b *testing.B) {
	n, warmBatches := 1_000_000, 1_000
	if v, err := strconv.Atoi(os.Getenv("NEWTERMS_BENCH_TUPLES")); err == nil && v > 0 {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("NEWTERMS_BENCH_WARM")); err == nil && v >= 0 {
		warmBatches = v
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(seen.HeapShare(0)))
	dir := filepath.Join(b.TempDir(), "state")
	if d := os.Getenv("NEWTERMS_BENCH_STATE"); d != "" {
		dir = d
	}
	_, err := os.Stat(dir)
	loaded := err == nil
	var srv *seentest.RedisServer
	if os.Getenv("NEWTERMS_BENCH_BACKEND") == "redis" {
		fsync := "everysec"
		if v := os.Getenv("NEWTERMS_BENCH_FSYNC"); v != "" {
			fsync = v
		}
		srv = seentest.StartRedis(b, "--appendfsync", fsync)
		loaded = false
	}
	memory := func() int64 { return int64(redisInfo(b, srv, "memory", "used_memory")) }
	serverCPU := func() float64 { // seconds
		return redisInfo(b, srv, "cpu", "used_cpu_user") + redisInfo(b, srv, "cpu", "used_cpu_sys")
	}
	mem0 := memory()
	s := openBench(b, dir, srv)
	tupleOf := func(i int) []string {
		return []string{"arn:aws:iam::111122223333:role/r" + strconv.Itoa(i), strconv.Itoa(i % 65000)}
	}
	start := time.Now()
	const loadBatch = 10_000
	for i := 0; i < n && !loaded; {
		batch := s.Begin(true)
		m := min(loadBatch, n-i)
		// As the engine does: one read of the batch's tuples (a no-op on
		// the embedded store).
		err := batch.Prefetch(func(yield func(string, []string) bool) {
			for j := range m {
				if !yield(benchRule.Key, tupleOf(i+j)) {
					return
				}
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		for range m {
			if _, err := batch.Check(benchRule, tupleOf(i), t0.Add(time.Duration(i)*time.Millisecond), "e"); err != nil {
				b.Fatal(err)
			}
			i++
		}
		if err := batch.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	load := time.Since(start)
	s.Close()
	size := dirSize(dir)
	if srv != nil {
		size = memory() - mem0
		redisTuples(b, srv, "PERSIST")
		noTTL := memory() - mem0
		redisTuples(b, srv, "PEXPIRE", strconv.FormatInt((benchRule.Window+seen.DefaultTTLMargin).Milliseconds(), 10))
		b.Logf("server memory: %.1f bytes a tuple with their TTLs, %.1f without (used_memory %d and %d bytes more after the load)",
			float64(size)/float64(n), float64(noTTL)/float64(n), size, noTTL)
	}
	start = time.Now()
	s = openBench(b, dir, srv)
	batch := s.Begin(false)
	if d, err := batch.Check(benchRule, tupleOf(n/2), t0.Add(time.Duration(n)*time.Millisecond), "e"); err != nil || d != seen.Known {
		b.Fatalf("first check after reopen: %v %v", d, err)
	}
	batch.Abort()
	reopen := time.Since(start)
	b.Logf("%d tuples: load %s (%.0f tuples/s), %.1f MiB on disk, reopen to first check %s, RSS %.0f MiB",
		n, load.Round(time.Millisecond), float64(n)/load.Seconds(), float64(size)/(1<<20), reopen.Round(time.Millisecond), procMiB("VmRSS"))
	if srv != nil {
		b.Logf("(on disk: the server's used_memory)")
	}
	defer s.Close()

	fresh := n // the new tuples of both streams: new to each
	mixed := func(b *testing.B, pick func(*rand.Rand) int) {
		rng := rand.New(rand.NewPCG(1, 2))
		at := t0.Add(time.Duration(n) * time.Millisecond)
		checks, hits, reads, batches := 0, 0, 0, 0
		// Where a batch's time goes: reading the misses, checking, committing.
		var prefetchT, checkT, commitT time.Duration
		tuples := make([][]string, 1000)
		batch := func() {
			batch := s.Begin(false)
			for i := range tuples {
				if rng.IntN(100) < 5 {
					tuples[i] = tupleOf(fresh)
					fresh++
				} else {
					tuples[i] = tupleOf(pick(rng))
				}
			}
			// As the engine does: a shared state reads the batch's cache
			// misses at once (a no-op on the embedded store).
			tp := time.Now()
			err := batch.Prefetch(func(yield func(string, []string) bool) {
				for _, tu := range tuples {
					if !yield(benchRule.Key, tu) {
						return
					}
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			prefetchT += time.Since(tp)
			tc := time.Now()
			for _, tu := range tuples {
				if _, err := batch.Check(benchRule, tu, at, "e"); err != nil {
					b.Fatal(err)
				}
				checks++
			}
			batches++
			checkT += time.Since(tc)
			tc = time.Now()
			defer func() { commitT += time.Since(tc) }()
			hits += batch.Counters.CacheHits
			reads += batch.Counters.StoreReads
			if err := batch.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		for range warmBatches {
			batch()
		}
		checks, hits, reads, batches = 0, 0, 0, 0
		prefetchT, checkT, commitT = 0, 0, 0
		defer func() {
			n := time.Duration(max(batches, 1))
			b.Logf("per batch: prefetch %s, checks %s, commit %s", prefetchT/n, checkT/n, commitT/n)
		}()
		var calls0 int64
		rt, shared := s.Store().(roundTrips)
		if shared {
			calls0 = rt.RoundTrips()
		}
		cpu0, srvCPU0 := cpuTime(), serverCPU()
		b.ResetTimer()
		for b.Loop() {
			batch()
		}
		b.StopTimer()
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(batches), "cpu-µs/batch")
		b.ReportMetric(float64(checks)/b.Elapsed().Seconds(), "checks/s")
		// CPU time is steadier than wall time on a shared machine.
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(max(checks, 1)), "cpu-ns/check")
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(batches), "µs/batch")
		if shared {
			b.ReportMetric(float64(rt.RoundTrips()-calls0)/float64(batches), "round-trips/batch")
			b.ReportMetric((serverCPU()-srvCPU0)*1e6/float64(batches), "server-cpu-µs/batch")
		}
		b.ReportMetric(float64(hits)/float64(hits+reads), "hit-ratio")
		cs := s.CacheStats()
		b.ReportMetric(float64(cs.Tuples), "cached-tuples")
		b.ReportMetric(float64(cs.Bytes)/float64(max(cs.Tuples, 1)), "cache-B/tuple")
		b.ReportMetric(procMiB("VmRSS"), "RSS-MiB")
		b.ReportMetric(procMiB("VmHWM"), "peak-RSS-MiB")
	}
	b.Run("mixed-zipf", func(b *testing.B) {
		zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, uint64(n-1))
		mixed(b, func(*rand.Rand) int { return int(zipf.Uint64()) })
	})
	b.Run("mixed-uniform", func(b *testing.B) {
		mixed(b, func(r *rand.Rand) int { return r.IntN(n) })
	})
}

// redisInfo is a figure of the server's INFO (0 without a server).
func redisInfo(b *testing.B, srv *seentest.RedisServer, section, field string) float64 {
	if srv == nil {
		return 0
	}
	c := srv.Client(b, "")
	defer c.Close()
	info, err := c.Do(context.Background(), c.B().Info().Section(section).Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n
		}
	}
	return 0
}

// redisTuples runs cmd (PERSIST, or PEXPIRE with args) on every tuple key
// of the benchmark's state, a page of SCAN at a time (to measure the
// memory of their TTLs).
func redisTuples(b *testing.B, srv *seentest.RedisServer, cmd string, args ...string) {
	c := srv.Client(b, "")
	defer c.Close()
	script := `local r = redis.call('SCAN', ARGV[1], 'MATCH', '{bench}:t*', 'COUNT', 1000)
for _, k in ipairs(r[2]) do redis.call(ARGV[2], k, unpack(ARGV, 3)) end
return r[1]`
	for cursor := "0"; ; {
		var err error
		cursor, err = c.Do(context.Background(), c.B().Eval().Script(script).Numkeys(0).Arg(append([]string{cursor, cmd}, args...)...).Build()).ToString()
		if err != nil {
			b.Fatal(err)
		}
		if cursor == "0" {
			return
		}
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// procMiB reads a size from /proc/self/status (VmRSS, VmHWM...).
func procMiB(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}
