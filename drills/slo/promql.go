package slo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// PromQL is a probe that evaluates query (an instant query) through the
// Prometheus HTTP API at baseURL, e.g. "http://127.0.0.1:9090", and reads
// the one sample it returns. A query that returns no series is an error
// (write `… or vector(0)` when no series means 0), and so is one that
// returns several (aggregate it: sum, max). The value is as fresh as the
// last scrape: give the probe the scrape interval as its staleness
// (WithStaleness). baseURL must be on the loopback address: firedrill
// reads only what it started.
func PromQL(name, unit, baseURL, query string) Probe {
	read, err := promQLReader(baseURL, query)
	if err != nil {
		read = func(context.Context) (float64, error) { return 0, err }
	}
	return NewProbe(name, unit, read)
}

// promQLReader returns the function that evaluates query at baseURL.
func promQLReader(baseURL, query string) (func(context.Context) (float64, error), error) {
	if err := Loopback(baseURL); err != nil {
		return nil, fmt.Errorf("promql probe: %w", err)
	}
	c, err := api.NewClient(api.Config{Address: baseURL})
	if err != nil {
		return nil, fmt.Errorf("promql probe: %w", err)
	}
	q := promv1.NewAPI(c)
	return func(ctx context.Context) (float64, error) {
		v, _, _, err := q.Query(ctx, query, time.Now())
		if err != nil {
			return 0, fmt.Errorf("query %q: %w", query, err)
		}
		return sampleOf(query, v)
	}, nil
}

// sampleOf reads the single value of an instant query's result.
func sampleOf(query string, v model.Value) (float64, error) {
	switch r := v.(type) {
	case *model.Scalar:
		return float64(r.Value), nil
	case model.Vector:
		switch len(r) {
		case 0:
			return 0, fmt.Errorf("query %q returned no series (write `… or vector(0)` if none means 0)", query)
		case 1:
			return float64(r[0].Value), nil
		}
		return 0, fmt.Errorf("query %q returned %d series: aggregate it (sum, max) to one", query, len(r))
	}
	return 0, fmt.Errorf("query %q returned a %s, not a scalar or an instant vector", query, v.Type())
}

// Loopback reports whether rawURL is an http(s) URL on a loopback address,
// the only kind firedrill reads; the error says what is wrong.
func Loopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: want http://127.0.0.1:PORT", rawURL)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("url " + rawURL + " is not on 127.0.0.1: firedrill only reads the loopback address (a container's published port)")
}
