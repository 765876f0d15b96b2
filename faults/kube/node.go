package kube

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/faults"
	kube "github.com/firedrill/firedrill/scenarios/kube"
)

// A node of firedrill's own cluster is a Docker container, so the
// container faults act on it: NodeKill is faults.Kill of the node's
// container (its revert starts it again; the node's /run and /tmp come
// back empty, as after a real reboot), NodeRestart faults.Restart. The
// node is chosen when the fault fires: Node names one, NodeOf finds the
// node a workload's pod runs on then ("node loss under the warehouse").
// The scope applies: by default every node but the control plane's.
//
// Onset is the Docker daemon's record of the kill, as on Docker; the
// cluster's own record of the loss (the node NotReady, after the
// controller manager's node-monitor-grace-period) comes much later and is
// a detection, not the onset.

// Node is the container of the named node, for the container faults.
func Node(c *kube.Cluster, name string) *faults.Choice {
	return faults.Choose("node "+name, func(ctx context.Context) (faults.ContainerTarget, error) {
		return c.NodeContainer(ctx, name)
	})
}

// NodeOf is the container of the node that the oldest ready pod of
// target (a *kube.Workload or *kube.Pods) runs on when the fault fires.
func NodeOf(target any) *faults.Choice {
	return faults.Choose("node of "+fmt.Sprint(target), func(ctx context.Context) (faults.ContainerTarget, error) {
		src, err := source(target)
		if err != nil {
			return nil, err
		}
		p, err := pick(ctx, src)
		if err != nil {
			return nil, err
		}
		if p.Spec.NodeName == "" {
			return nil, fmt.Errorf("pod %s/%s is not scheduled on a node yet", p.Namespace, p.Name)
		}
		return src.Cluster().NodeContainer(ctx, p.Spec.NodeName)
	})
}

// NodeKill kills node's container (SIGKILL: the kubelet, containerd and
// every pod on it die at once, as when a machine loses power). Revert
// starts it again; the node registers again and its pods are recreated.
func NodeKill(node *faults.Choice) *faults.KillFault {
	return faults.Kill(node, "SIGKILL").AllowEmptyTmpfs()
}

// NodeRestart restarts node's container (SIGTERM, then SIGKILL after
// timeout), as a reboot does.
func NodeRestart(node *faults.Choice, timeout time.Duration) *faults.RestartFault {
	return faults.Restart(node, timeout)
}
