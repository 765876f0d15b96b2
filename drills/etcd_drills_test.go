package drills_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios/etcd"
)

// The etcd drills: the catalogue's 3-member etcd cluster (scenarios/etcd)
// under puts, each acknowledged put read back afterwards. The leader is
// found through etcd's own Status call when the fault fires. Each drill is
// paired with a broken twin: the same drill on a cluster or client that
// really recovers slower (or not at all), which must fail.

// etcdRate is the put rate: puts per second, each its own key.
const etcdRate = 100

// etcdSteady is the cluster's steady state as its clients see it: puts
// succeed, promptly.
func etcdSteady() slo.Objective {
	return slo.All(slo.SuccessRatio(0.99), slo.LatencyQuantile(0.99, 250*time.Millisecond))
}

// TestDrillEtcdLeaderKill: the leader is SIGKILLed and stays down until the
// drill ends; the other two elect a new leader and serve again. Kill's
// revert starts the same container, which rejoins with its data.
func TestDrillEtcdLeaderKill(t *testing.T) {
	c := etcd.Start(t)
	res := drills.Run(t, drills.Drill{
		Name:      "etcd-leader-kill",
		Workload:  c.Puts(load.Constant(etcdRate)),
		Steady:    slo.All(slo.SuccessRatio(0.99), slo.LatencyQuantile(0.99, 250*time.Millisecond)),
		Faults:    faults.At(time.Second, faults.Kill(faults.Choose("leader", c.Leader), "SIGKILL")),
		Integrity: drills.LandedFunc(c.Landed),
		Budget:    drills.Budget{TTR: 5 * time.Second},
	})
	assert.Contains(t, res.Episodes[0].Fault, "= leader", res.FormatTimeline())
}
