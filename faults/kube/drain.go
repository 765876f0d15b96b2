package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/firedrill/firedrill/faults"
	kube "github.com/firedrill/firedrill/scenarios/kube"
)

// DrainFault cordons a node and, for Drain, evicts its pods; see Cordon
// and Drain.
type DrainFault struct {
	node  *kube.Node
	evict bool

	mu      sync.Mutex
	active  bool
	evicted []string
}

var (
	_ faults.Fault     = (*DrainFault)(nil)
	_ faults.Validator = (*DrainFault)(nil)
)

// Cordon marks node unschedulable: nothing new is placed on it, what runs
// there stays. Revert uncordons it. It works on a user's cluster too (for
// a node listed in Scope.Nodes).
func Cordon(node *kube.Node) *DrainFault { return &DrainFault{node: node} }

// Drain cordons node and evicts (policy/v1 Eviction, honouring
// PodDisruptionBudgets) its pods within the cluster's scope, as `kubectl
// drain` does for a maintenance; the pods' controllers recreate them on
// other nodes. Revert uncordons the node (evicted pods stay where they
// were rescheduled).
//
// Onset: the call's bracket (the evictions are accepted when it returns).
func Drain(node *kube.Node) *DrainFault { return &DrainFault{node: node, evict: true} }

// Name is "drain(node NAME)" or "cordon(node NAME)".
func (f *DrainFault) Name() string {
	kind := "cordon"
	if f.evict {
		kind = "drain"
	}
	return kind + "(" + fmt.Sprint(f.node) + ")"
}

// Validate checks the target.
func (f *DrainFault) Validate() error {
	if f.node == nil {
		return fmt.Errorf("%s: %w", f.Name(), faults.ErrNoTarget)
	}
	return nil
}

// Evicted lists the pods the last inject evicted (namespace/name).
func (f *DrainFault) Evicted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.evicted...)
}

// Inject cordons the node and evicts its pods. A drain that evicted
// nothing is an error: the fault would hit nothing.
func (f *DrainFault) Inject(ctx context.Context) error {
	if err := f.node.SetUnschedulable(ctx, true); err != nil {
		return err
	}
	f.mu.Lock()
	f.active = true
	f.mu.Unlock()
	if !f.evict {
		return nil
	}
	ev, err := f.node.Evict(ctx)
	f.mu.Lock()
	f.evicted = ev
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if len(ev) == 0 {
		return fmt.Errorf("drain %s: no pod of the drill's scope runs there: the fault would hit nothing", f.node)
	}
	return nil
}

// Revert uncordons the node.
func (f *DrainFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	active := f.active
	f.mu.Unlock()
	if !active {
		return nil
	}
	if err := f.node.SetUnschedulable(ctx, false); err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil
		}
		return fmt.Errorf("uncordon %s: %w (kubectl uncordon %s)", f.node, err, f.node.Name)
	}
	f.mu.Lock()
	f.active = false
	f.mu.Unlock()
	return nil
}
