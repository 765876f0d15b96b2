package etcd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
)

// KeyPrefix is the prefix of every key the Puts workloads write; Landed
// reads back everything below it.
const KeyPrefix = "firedrill/"

// PutOption configures Puts. An option that fails makes the workload
// invalid, which its Validate (and so the drill engine) reports.
type PutOption func(*putConfig) error

type putConfig struct {
	timeout, attempt time.Duration
	only             string // member name; "" means every member
	plain            bool
}

// WithPutTimeout bounds each put, retries included (default 2s; positive).
// A put still unacknowledged then is a failure, not an acknowledgement: it
// may still have been applied, which is not a loss.
func WithPutTimeout(d time.Duration) PutOption {
	return func(c *putConfig) error {
		if d <= 0 {
			return fmt.Errorf("put timeout %v: must be positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithAttemptTimeout bounds each attempt at one member before the put
// moves on to the next (default 1s; positive). A member that is slow but
// answers within it is only slow; one that does not is taken out of the
// rotation until it answers Status again.
func WithAttemptTimeout(d time.Duration) PutOption {
	return func(c *putConfig) error {
		if d <= 0 {
			return fmt.Errorf("attempt timeout %v: must be positive", d)
		}
		c.attempt = d
		return nil
	}
}

// OnlyThrough makes every put go through one member's client endpoint, as
// a client configured with a single endpoint does: no failover.
func OnlyThrough(member string) PutOption {
	return func(c *putConfig) error {
		c.only = member
		return nil
	}
}

// WithPlainPuts makes each attempt a plain put instead of a create-if-absent
// transaction: a retry of a put that was applied but whose answer was lost
// applies it again (the key's version becomes 2), which Landed reports as a
// duplicate. A realistic client bug, for showing that the check sees it.
func WithPlainPuts() PutOption {
	return func(c *putConfig) error { c.plain = true; return nil }
}

// Puts is the open-model write workload. Request seq writes its own key,
// KeyPrefix+"<workload>/<seq>", with a transaction that creates it only if
// it does not exist, through the client links: it starts at member
// seq mod 3 and, on an error or after the attempt timeout, retries at the
// next member (round robin, as etcd's client balances) until the put
// timeout. The acknowledged id is the key. Because each attempt only
// creates, a retry of a put that was applied is a no-op: the key's version
// (how many times it was written) stays 1, and Landed can tell a duplicate
// from a retry.
func (c *Cluster) Puts(pacer load.Pacer, opts ...PutOption) load.Workload {
	cfg := putConfig{timeout: 2 * time.Second, attempt: time.Second}
	var errs []error
	for _, o := range opts {
		errs = append(errs, o(&cfg))
	}
	endpoints := slices.Clone(c.Endpoints)
	if cfg.only != "" {
		i := slices.Index(c.Members, c.Member(cfg.only))
		if i < 0 || c.Member(cfg.only) == nil {
			errs = append(errs, fmt.Errorf("OnlyThrough(%q): not a member (want etcd1, etcd2 or etcd3)", cfg.only))
		} else {
			endpoints = []string{c.Endpoints[i]}
		}
	}
	prefix := fmt.Sprintf("%sw%d-%d/", KeyPrefix, os.Getpid(), c.workers.Add(1))
	hc := load.NewClient(0)
	bal := newBalancer(c.life, hc, endpoints)
	op := func(ctx context.Context, seq uint64) (string, error) {
		key := fmt.Sprintf("%s%08d", prefix, seq)
		path, body := "/v3/kv/txn", any(createTxn(key, key))
		if cfg.plain {
			path, body = "/v3/kv/put", map[string]any{"key": b64(key), "value": b64(key)}
		}
		var last error
		for attempt := uint64(0); ; attempt++ {
			i := bal.pick(seq, attempt)
			actx, cancel := context.WithTimeout(ctx, cfg.attempt)
			err := call(actx, hc, endpoints[i], path, body, &txnResponse{})
			cancel()
			if err == nil {
				return key, nil // created now, or by an earlier attempt
			}
			if ctx.Err() == nil {
				bal.failed(i, err)
			}
			last = err
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("put %s: %w (last attempt: %w)", key, ctx.Err(), last)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	lopts := []load.Option{load.WithName("etcd-puts"), load.WithTimeout(cfg.timeout)}
	if err := errors.Join(errs...); err != nil {
		lopts = append(lopts, func(*load.Workload) error { return fmt.Errorf("configure puts: %w", err) })
	}
	return load.New(pacer, op, lopts...)
}

// Landed is the integrity reader: every key below KeyPrefix, read back
// with a linearizable range from whichever member answers first (all are
// asked at once, through their own client ports), each key repeated as
// many times as it was written (its version): a key applied once is
// listed once, a key applied twice is listed twice (a duplicate).
func (c *Cluster) Landed(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		ids []string
		err error
	}
	answers := make(chan answer, len(c.Members))
	for _, m := range c.Members {
		go func() {
			addr, err := m.Endpoint(ctx, ClientPort)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			ids, err := c.rangeAll(ctx, addr)
			if err != nil {
				err = fmt.Errorf("read back from %s: %w", m.Name, err)
			}
			answers <- answer{ids, err}
		}()
	}
	var errs []error
	for range c.Members {
		a := <-answers
		if a.err == nil {
			return a.ids, nil
		}
		errs = append(errs, a.err)
	}
	return nil, fmt.Errorf("read back the written keys: %w", errors.Join(errs...))
}

// rangeAll reads every key below KeyPrefix (keys only) from addr, in pages.
func (c *Cluster) rangeAll(ctx context.Context, addr string) ([]string, error) {
	var ids []string
	from, end := KeyPrefix, prefixEnd(KeyPrefix)
	for {
		var res rangeResponse
		req := map[string]any{"key": b64(from), "range_end": b64(end), "keys_only": true, "limit": "5000"}
		if err := call(ctx, c.http, addr, "/v3/kv/range", req, &res); err != nil {
			return nil, err
		}
		for _, kv := range res.KVs {
			key, err := unb64(kv.Key)
			if err != nil {
				return nil, fmt.Errorf("decode key %q: %w", kv.Key, err)
			}
			for range max(kv.Version.uint(), 1) {
				ids = append(ids, key)
			}
			from = key + "\x00"
		}
		if !res.More || len(res.KVs) == 0 {
			return ids, nil
		}
	}
}

// Healthy is the probe of how many members answer Status, follow a leader
// and raise no alarm (3 in a healthy cluster).
func (c *Cluster) Healthy() slo.Probe {
	return slo.NewProbe("etcd_healthy_members", "members", func(ctx context.Context) (float64, error) {
		sts, _ := c.Statuses(ctx)
		n := 0
		for _, st := range sts {
			if st.Leader != 0 && len(st.Errors) == 0 {
				n++
			}
		}
		return float64(n), nil
	}).WithEvery(250 * time.Millisecond).WithTimeout(statusTimeout)
}
