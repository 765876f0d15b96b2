package kube

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
	kube "github.com/firedrill/firedrill/scenarios/kube"
)

// Faults with no or a wrong target, or bad parameters, are refused by
// Validate before anything is injected, naming what is wrong.
func TestValidateRefusesBadFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    faults.Validator
		want error
		text string
	}{
		{"delete-pod of nothing", DeletePod(nil), faults.ErrNoTarget, "give a *kube.Workload"},
		{"delete-pod of a string", DeletePod("api"), faults.ErrNoTarget, "target string"},
		{"delete-pod with a negative grace", DeletePod(&kube.Workload{Kind: "Deployment"}).Grace(-1), faults.ErrInvalid, "negative grace"},
		{"kill-container of nothing", KillContainer(nil, ""), faults.ErrNoTarget, ""},
		{"scale-to-zero of nothing", ScaleToZero(nil), faults.ErrNoTarget, ""},
		{"partition of nothing", NodePartition(nil, Both), faults.ErrNoTarget, ""},
		{"partition in no direction", NodePartition(Node(nil, "n"), Direction(7)), faults.ErrInvalid, "direction 7"},
		{"drain of nothing", Drain(nil), faults.ErrNoTarget, ""},
		{"limits of nothing", Limits(nil, "", "100m", ""), faults.ErrNoTarget, ""},
		{"limits with none", Limits(&kube.Workload{Kind: "Deployment", Namespace: "ns", Name: "api"}, "", "", ""), faults.ErrInvalid, `"64Mi"`},
		{"limits unparsable", Limits(&kube.Workload{Kind: "Deployment", Namespace: "ns", Name: "api"}, "", "lots", ""), faults.ErrInvalid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.text)
		})
	}
}

// Names say what each fault does to what, before its target is chosen.
func TestNames(t *testing.T) {
	w := &kube.Workload{Kind: "Deployment", Namespace: "fd-x", Name: "api"}
	assert.Equal(t, "delete-pod(Deployment fd-x/api, grace 0s)", DeletePod(w).Name())
	assert.Equal(t, "kill-container(Deployment fd-x/api container web, SIGKILL)", KillContainer(w, "web").Name())
	assert.Equal(t, "scale-to-zero(Deployment fd-x/api)", ScaleToZero(w).Name())
	assert.Equal(t, "limits(Deployment fd-x/api, cpu=100m, memory=64Mi)", Limits(w, "", "100m", "64Mi").Name())
	assert.Equal(t, "partition(node n2?, inbound)", NodePartition(Node(nil, "n2"), Inbound).Name())
	assert.True(t, strings.HasPrefix(NodeKill(Node(nil, "n2")).Name(), "kill(node n2?"), NodeKill(Node(nil, "n2")).Name())
}

// The partition's rules: both directions drop the node's interface in and
// out, its pods' forwarded traffic included; one direction only that way.
func TestPartitionRules(t *testing.T) {
	chains := func(d Direction) []string {
		var out []string
		for _, r := range NodePartition(Node(nil, "n"), d).rules() {
			out = append(out, strings.Join(r[:3], " "))
			assert.Contains(t, strings.Join(r, " "), "--comment "+partitionTag+" -j DROP")
		}
		return out
	}
	assert.Equal(t, []string{"INPUT -i eth0", "FORWARD -i eth0", "OUTPUT -o eth0", "FORWARD -o eth0"}, chains(Both))
	assert.Equal(t, []string{"INPUT -i eth0", "FORWARD -i eth0"}, chains(Inbound))
	assert.Equal(t, []string{"OUTPUT -o eth0", "FORWARD -o eth0"}, chains(Outbound))
}
