package etcd

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// balancer spreads a workload's requests over the client endpoints the way
// etcd's own client does: round robin over the endpoints that are up. An
// endpoint whose attempt failed at the connection level (refused, reset,
// no answer within the attempt timeout) is taken out and probed in the
// background (a Status call through the same link, every probeEvery) until
// it answers; requests go to the others meanwhile. When every endpoint is
// out, requests try them all anyway.
type balancer struct {
	endpoints []string
	hc        *http.Client
	life      context.Context // the cluster's: probes stop when it closes

	mu   sync.Mutex
	down []bool
}

// probeEvery is the pause between two probes of an endpoint that is out.
const probeEvery = 100 * time.Millisecond

func newBalancer(life context.Context, hc *http.Client, endpoints []string) *balancer {
	return &balancer{endpoints: endpoints, hc: hc, life: life, down: make([]bool, len(endpoints))}
}

// pick returns the index of the endpoint for attempt n of request seq: the
// (seq+n)-th among those up, or among all when none is.
func (b *balancer) pick(seq, n uint64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var up []int
	for i, d := range b.down {
		if !d {
			up = append(up, i)
		}
	}
	if len(up) == 0 {
		return int((seq + n) % uint64(len(b.endpoints)))
	}
	return up[(seq+n)%uint64(len(up))]
}

// failed records that an attempt at endpoint i failed with err. An answer
// from etcd itself (a gateway error such as "leader changed") means the
// member is there: it stays in.
func (b *balancer) failed(i int, err error) {
	var ge *gatewayError
	if errors.As(err, &ge) {
		return
	}
	b.mu.Lock()
	if b.down[i] {
		b.mu.Unlock()
		return
	}
	b.down[i] = true
	b.mu.Unlock()
	go b.probe(i)
}

// probe polls endpoint i until it answers Status, then puts it back.
func (b *balancer) probe(i int) {
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		select {
		case <-b.life.Done():
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(b.life, 300*time.Millisecond)
		err := call(ctx, b.hc, b.endpoints[i], "/v3/maintenance/status", struct{}{}, &statusResponse{})
		cancel()
		if err == nil {
			b.mu.Lock()
			b.down[i] = false
			b.mu.Unlock()
			return
		}
	}
}
