package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/firedrill/firedrill/faults"
)

// Direction is which way a partition drops traffic.
type Direction int

const (
	// Both drops what the node sends and what it receives.
	Both Direction = iota
	// Inbound drops what reaches the node; what it sends still leaves
	// (over TCP, without the answers, little gets through).
	Inbound
	// Outbound drops what the node sends.
	Outbound
)

func (d Direction) String() string {
	switch d {
	case Inbound:
		return "inbound"
	case Outbound:
		return "outbound"
	}
	return "both ways"
}

// partitionTag marks firedrill's rules, so Revert removes exactly them.
const partitionTag = "firedrill-partition"

// NodePartitionFault cuts a node off the cluster's network; see NodePartition.
type NodePartitionFault struct {
	node *faults.Choice
	dir  Direction

	mu     sync.Mutex
	target faults.Execer
}

var (
	_ faults.Fault     = (*NodePartitionFault)(nil)
	_ faults.Resolver  = (*NodePartitionFault)(nil)
	_ faults.Validator = (*NodePartitionFault)(nil)
)

// NodePartition cuts node (Node or NodeOf) off the cluster's network with
// iptables rules inside the node's own network namespace, so neither the
// host nor another node is touched: every packet in (Inbound), out
// (Outbound) or both through the node's interface is dropped, its pods'
// traffic included (INPUT, OUTPUT and FORWARD). The kubelet stops
// reaching the API server; the controller manager marks the node
// NotReady after its node-monitor-grace-period and evicts its pods after
// their toleration. Revert removes exactly the rules it added (tagged
// "firedrill-partition").
//
// Onset: the call's bracket (the rules are in place when it returns).
func NodePartition(node *faults.Choice, dir Direction) *NodePartitionFault {
	return &NodePartitionFault{node: node, dir: dir}
}

// Name is "partition(<node>, both ways)".
func (f *NodePartitionFault) Name() string {
	return fmt.Sprintf("partition(%s, %s)", f.node, f.dir)
}

// Validate checks the target.
func (f *NodePartitionFault) Validate() error {
	if f.node == nil {
		return fmt.Errorf("partition: %w", faults.ErrNoTarget)
	}
	if f.dir < Both || f.dir > Outbound {
		return fmt.Errorf("partition: %w: direction %d", faults.ErrInvalid, f.dir)
	}
	return nil
}

// Resolve chooses the node.
func (f *NodePartitionFault) Resolve(ctx context.Context) error {
	if err := f.node.Resolve(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	f.target = f.node
	f.mu.Unlock()
	return nil
}

// rules are the iptables rules of the direction, as arguments after the
// chain operation.
func (f *NodePartitionFault) rules() [][]string {
	tag := []string{"-m", "comment", "--comment", partitionTag, "-j", "DROP"}
	var out [][]string
	if f.dir == Both || f.dir == Inbound {
		out = append(out, append([]string{"INPUT", "-i", "eth0"}, tag...), append([]string{"FORWARD", "-i", "eth0"}, tag...))
	}
	if f.dir == Both || f.dir == Outbound {
		out = append(out, append([]string{"OUTPUT", "-o", "eth0"}, tag...), append([]string{"FORWARD", "-o", "eth0"}, tag...))
	}
	return out
}

// Inject inserts the rules at the top of their chains (before
// kube-proxy's). On error the rules added so far are removed.
func (f *NodePartitionFault) Inject(ctx context.Context) error {
	if err := f.Resolve(ctx); err != nil {
		return err
	}
	for _, r := range f.rules() {
		cmd := append([]string{"iptables", "-w", "5", "-I", r[0], "1"}, r[1:]...)
		code, out, err := f.target.Exec(ctx, cmd)
		if err != nil || code != 0 {
			rerr := f.Revert(context.WithoutCancel(ctx))
			return fmt.Errorf("partition %s: %s: exit %d: %w: %s (rolled back: %w)", f.node, strings.Join(cmd, " "), code, errors.Join(err, errExit(code)), strings.TrimSpace(out), rerr)
		}
	}
	return nil
}

// Revert deletes every rule tagged firedrill-partition from the node's
// chains (however many an interrupted inject left).
func (f *NodePartitionFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	t := f.target
	f.mu.Unlock()
	if t == nil {
		return nil
	}
	script := `for c in INPUT OUTPUT FORWARD; do
  iptables -w 5 -S "$c" | grep -- '--comment ` + partitionTag + `' | sed 's/^-A /-D /' | while read -r r; do eval iptables -w 5 $r || exit 1; done
done
! iptables -w 5 -S | grep -q -- ` + partitionTag
	code, out, err := t.Exec(ctx, []string{"sh", "-c", script})
	if err != nil {
		if faults.IsNotFound(err) || strings.Contains(err.Error(), "is not running") {
			return nil // a node that is gone or stopped has no rules: a new start has a new network namespace
		}
		return fmt.Errorf("heal partition of %s: %w (by hand: docker exec %s iptables -S | grep %s)", f.node, err, f.node, partitionTag)
	}
	if code != 0 {
		return fmt.Errorf("heal partition of %s: exit %d: %s (by hand: docker exec %s iptables -S | grep %s)", f.node, code, strings.TrimSpace(out), f.node, partitionTag)
	}
	return nil
}

// errExit is a non-zero exit code as an error (nil for 0).
func errExit(code int) error {
	if code == 0 {
		return nil
	}
	return fmt.Errorf("exit code %d", code)
}
