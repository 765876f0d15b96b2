// Package kube holds firedrill's faults on Kubernetes, one file per kind
// like the Docker ones, each an inject/revert pair reverted however the
// drill ends (the Injector's Guard):
//
//   - DeletePod: delete a pod of a workload (grace 0 by default); its
//     controller replaces it, so Revert has nothing to put back;
//   - KillContainer: SIGKILL a pod's container through the node's runtime
//     (containerd), as an OOM kill or a crash would; the kubelet restarts it;
//   - ScaleToZero: scale a workload to 0; Revert scales it back;
//   - NodeKill, NodeRestart: kill (or restart) a node's container of
//     firedrill's own cluster; Revert starts it again;
//   - NodePartition: cut a node off the cluster's network with iptables
//     inside the node, both ways or one; Revert removes the rules;
//   - Cordon, Drain: mark a node unschedulable (and evict its pods in the
//     drill's scope); Revert uncordons it;
//   - Limits: set a workload's container resources (a rollout); Revert
//     puts the previous ones back (another rollout).
//
// Every change goes through the scenarios/kube handles, which check the
// cluster's Scope first.
//
// Onset. Kubernetes objects carry timestamps in whole seconds, too coarse
// for a TTR stated to milliseconds. The faults therefore time what the
// cluster records by the client's receipt of watch events: the watch is
// opened before the call, and the onset bracket runs from the call being
// sent to the receipt of the event that shows the fault in effect (the
// pod deleted, the container's exit reported, the first pod of a scaled
// workload terminating). The event can only be received after the change
// happened, so the instant lies inside the bracket. Faults whose effect
// is the call itself (iptables rules in place, a node container killed,
// per the Docker daemon's record) keep the call's bracket or the
// daemon's record, as on Docker.
package kube
