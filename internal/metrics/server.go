package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultListen is where metrics_listen "on" serves: loopback only, beside
// Fluent Bit's own HTTP server's default port (2020).
const DefaultListen = "127.0.0.1:2021"

// ParseListen reads a metrics_listen value: "off" (or "") for none, "on"
// for DefaultListen, a port alone (loopback), or host:port. Any other
// host than loopback has to be written out.
func ParseListen(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "", "off":
		return "", nil
	case "on":
		return DefaultListen, nil
	}
	if p, err := strconv.Atoi(v); err == nil {
		if p < 1 || p > 65535 {
			return "", errors.New("want a port from 1 to 65535")
		}
		return net.JoinHostPort("127.0.0.1", v), nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", errors.New("want off, on, a port, or host:port")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", errors.New("want a port from 0 to 65535 after the host")
	}
	return net.JoinHostPort(host, port), nil
}

// Source is one instance as the endpoint serves it.
type Source struct {
	Name     string // the instance label
	Layout   *Layout
	Snapshot func() Snapshot
}

// Collector exposes the sources' series to a Prometheus registry. It
// declares no descriptions up front (an "unchecked" collector): the rules,
// and so the label values, are known only once instances start.
type Collector struct {
	mu      sync.Mutex
	sources []*Source
}

// Add serves a source until the returned function removes it. Two
// sources of one name would collide: the second is refused.
func (c *Collector) Add(s *Source) (remove func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.ContainsFunc(c.sources, func(o *Source) bool { return o.Name == s.Name }) {
		return nil, fmt.Errorf("metrics: two instances named %q: give them distinct aliases", s.Name)
	}
	c.sources = append(c.sources, s)
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.sources = slices.DeleteFunc(c.sources, func(o *Source) bool { return o == s })
	}, nil
}

func (c *Collector) list() []*Source {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sources)
}

// Describe sends nothing: see Collector.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series of every source, from one snapshot each.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	descs := map[*Family]*prometheus.Desc{}
	for _, src := range c.list() {
		snap := src.Snapshot()
		values := src.Layout.Values(&snap, nil)
		for j, s := range src.Layout.Series() {
			d := descs[s.Family]
			if d == nil {
				d = prometheus.NewDesc(s.Family.FullName(), s.Family.Help, append([]string{InstanceLabel}, s.Family.Labels...), nil)
				descs[s.Family] = d
			}
			labels := append([]string{src.Name}, s.Labels...)
			v := values[j]
			var m prometheus.Metric
			var err error
			switch s.Family.Type {
			case Histogram:
				buckets := make(map[float64]uint64, len(v.Hist.Bounds))
				for k, b := range v.Hist.Bounds {
					buckets[b] = v.Hist.Cumulative[k]
				}
				m, err = prometheus.NewConstHistogram(d, v.Hist.Count, v.Hist.Sum, buckets, labels...)
			case Counter:
				m, err = prometheus.NewConstMetric(d, prometheus.CounterValue, v.Number, labels...)
			default:
				m, err = prometheus.NewConstMetric(d, prometheus.GaugeValue, v.Number, labels...)
			}
			if err != nil {
				m = prometheus.NewInvalidMetric(d, err)
			}
			ch <- m
		}
	}
}

// Health is what /healthz answers for one instance.
type Health struct {
	Status   string   `json:"status"` // ok, degraded (delivery failing), failing
	Problems []string `json:"problems,omitempty"`
}

// HealthOf judges a snapshot: Problems (commits failing: input waits)
// make it failing; a delivery outage only degraded, since alerts wait
// safely in the outbox and a restart would not bring the receiver back.
func HealthOf(s *Snapshot) Health {
	switch {
	case len(s.Problems) > 0:
		return Health{Status: "failing", Problems: s.Problems}
	case s.Forward.Failing:
		return Health{Status: "degraded", Problems: []string{"alert delivery failing, alerts wait in the outbox"}}
	}
	return Health{Status: "ok"}
}

// Server serves the Prometheus text format on /metrics (the sources,
// and the Go runtime's and the process's own series) and a health check
// on /healthz: 200 while every instance is ok or degraded, 503 when one
// is failing or none runs.
type Server struct {
	Collector
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// Listen starts a server on addr.
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen %s: %w", addr, err)
	}
	s := &Server{ln: ln, done: make(chan struct{})}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&s.Collector, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", s.healthz)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the address served (with the port chosen for port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving, within a bound: a scrape under way may finish.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	return err
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	body := struct {
		Status    string            `json:"status"`
		Instances map[string]Health `json:"instances"`
	}{Status: "ok", Instances: map[string]Health{}}
	srcs := s.list()
	if len(srcs) == 0 {
		body.Status = "no instance running"
	}
	for _, src := range srcs {
		snap := src.Snapshot()
		h := HealthOf(&snap)
		body.Instances[src.Name] = h
		if h.Status == "failing" {
			body.Status = "failing"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if body.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(body)
}

// Shared is one server per process, shared by the instances that ask for
// it: Fluent Bit runs several instances, and a hot reload stops the old
// ones before it starts the new ones in the same process, so the server
// closes with its last instance and opens again with the next.
type Shared struct {
	mu    sync.Mutex
	srv   *Server
	users int
}

// Join serves src on addr, starting the server if none runs. An instance
// asking for another address than the running server's is refused.
func (sh *Shared) Join(addr string, src *Source) (leave func(), served string, err error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.srv == nil {
		if sh.srv, err = Listen(addr); err != nil {
			return nil, "", err
		}
	} else if addr != sh.srv.Addr() && !samePort(addr, sh.srv.Addr()) {
		return nil, "", fmt.Errorf("metrics_listen %s: this process serves metrics on %s already: one address per Fluent Bit", addr, sh.srv.Addr())
	}
	remove, err := sh.srv.Add(src)
	if err != nil {
		sh.closeIfUnused()
		return nil, "", err
	}
	sh.users++
	srv := sh.srv
	var once sync.Once
	return func() {
		once.Do(func() {
			remove()
			sh.mu.Lock()
			defer sh.mu.Unlock()
			sh.users--
			sh.closeIfUnused()
		})
	}, srv.Addr(), nil
}

func (sh *Shared) closeIfUnused() {
	if sh.users == 0 && sh.srv != nil {
		sh.srv.Close()
		sh.srv = nil
	}
}

// samePort: "127.0.0.1:0" asked again once the server chose its port.
func samePort(asked, served string) bool {
	ah, ap, err1 := net.SplitHostPort(asked)
	sh, _, err2 := net.SplitHostPort(served)
	return err1 == nil && err2 == nil && ap == "0" && ah == sh
}
