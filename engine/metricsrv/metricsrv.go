// Package metricsrv serves a pipeline's metrics to Prometheus over HTTP
// (the standard Go client), on metrics.prometheus_addr.
//
// It is off unless configured. An address without a host (":9090") listens
// on 127.0.0.1 only: a stream's numbers are nobody else's business unless the
// user names a host ("0.0.0.0:9090") on purpose.
package metricsrv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sample is one exported value.
type Sample struct {
	Name    string // without the facelive_ prefix, e.g. "frames_submitted_total"
	Help    string
	Value   float64
	Counter bool // else a gauge
}

// Reader fills dst with the current samples; it is called on every scrape.
type Reader func(dst []Sample) []Sample

// Server is one running endpoint. Close stops it.
type Server struct {
	addr string
	srv  *http.Server
	ln   net.Listener
	wg   sync.WaitGroup
	once sync.Once
}

// ListenAddr resolves a configured address: a missing host means loopback.
func ListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("metrics.prometheus_addr %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Start listens on addr and serves /metrics from read. It returns once the
// port is bound, or an error that names the address (e.g. already in use).
func Start(addr string, read Reader) (*Server, error) {
	la, err := ListenAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", la)
	if err != nil {
		return nil, fmt.Errorf("metrics.prometheus_addr: cannot listen on %s: %w (choose a free port, or \"\" to turn it off)", la, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{read: read})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s := &Server{addr: ln.Addr().String(), ln: ln,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener failed after start; scrapes will say so
		}
	}()
	return s, nil
}

// Addr is the address actually bound (the port, when :0 was asked).
func (s *Server) Addr() string { return s.addr }

// Close stops serving and waits for the server goroutine. Idempotent.
func (s *Server) Close() {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
		s.wg.Wait()
	})
}

// collector turns the reader's samples into constant metrics on each
// scrape. It describes nothing up front (an unchecked collector): the set of
// stages, and so of names, follows the pipeline.
type collector struct{ read Reader }

func (collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.read(nil) {
		kind := prometheus.GaugeValue
		if s.Counter {
			kind = prometheus.CounterValue
		}
		desc := prometheus.NewDesc("facelive_"+s.Name, s.Help, nil, nil)
		if m, err := prometheus.NewConstMetric(desc, kind, s.Value); err == nil {
			ch <- m
		}
	}
}
