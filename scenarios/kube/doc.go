// Package kube runs firedrill's drills on Kubernetes: a system declared as
// Kubernetes objects (the user's manifests) in a namespace of its own,
// typed handles on its workloads, pods, Services and nodes, links through
// a toxiproxy pod so that every toxic of package faults works as on
// Docker, and the test reaching the system through ports on 127.0.0.1
// (port-forwards through the API server).
//
// Two kinds of cluster:
//
//   - firedrill's own (scripts/cluster.sh, `make cluster`): nodes are
//     Docker containers on this machine, so node faults can kill, restart
//     and partition them. [Local] connects a test to it.
//   - a user's (staging): [Connect] with a kubeconfig and a [Scope] that
//     lists the namespaces, label selector and nodes a drill may act on.
//     Everything that changes the cluster checks the scope first and is
//     refused with ErrOutOfScope otherwise; node faults act through the
//     API only (cordon, drain).
//
// Every object firedrill creates carries the labels firedrill=true,
// firedrill.run, firedrill.system and firedrill.instance; [Running.Close]
// (registered with the test and with the process's ending handler)
// deletes the namespace Start created and waits until it is gone.
//
// There is no cluster DNS in firedrill's own cluster: pods reach each
// other through ${link:NAME} (the toxiproxy pod) or ${service:NAME} (a
// Service's ClusterIP), which Start expands in the manifests.
package kube
