package etcd_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios"
	"github.com/firedrill/firedrill/scenarios/etcd"
)

func TestSystemValidates(t *testing.T) {
	t.Parallel()
	sys := etcd.System()
	require.NoError(t, sys.Validate())
	require.Len(t, sys.Containers, etcd.Size)
	for _, c := range sys.Containers {
		assert.Empty(t, c.Tmpfs, "%s: data must not be on a tmpfs by default", c.Name)
		assert.Contains(t, c.Cmd, "--data-dir=/etcd/data")
		assert.Contains(t, c.Cmd, "--initial-advertise-peer-urls=http://${link:"+etcd.PeerLink(c.Name)+"}")
		assert.Contains(t, c.Cmd, "--initial-cluster=etcd1=http://${link:etcd1-peer},etcd2=http://${link:etcd2-peer},etcd3=http://${link:etcd3-peer}")
	}
}

func TestOptionsRejectBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opt  etcd.Option
		want string
	}{
		{"negative election", etcd.WithElectionTimeout(-time.Second), "must be a positive whole number of milliseconds"},
		{"sub-millisecond heartbeat", etcd.WithHeartbeat(1500 * time.Microsecond), "must be a positive whole number of milliseconds"},
		{"election below 5 heartbeats", etcd.WithElectionTimeout(300 * time.Millisecond), "less than 5 heartbeats"},
		{"election above etcd's maximum", etcd.WithElectionTimeout(time.Minute), "at most 50s"},
		{"unknown data placement", etcd.WithData(etcd.DataPlacement(7)), "want etcd.DataOnContainer or etcd.DataOnTmpfs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := etcd.StartContext(t.Context(), c.opt)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestClusterLeaderPutsAndReadBack(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker (skipped under -short)")
	}
	c := etcd.Start(t)
	ctx := t.Context()
	leader, err := c.LeaderMember(ctx)
	require.NoError(t, err)
	followers, err := c.Followers(ctx)
	require.NoError(t, err)
	require.Len(t, followers, 2)
	assert.NotContains(t, followers, leader)
	sts, err := c.Statuses(ctx)
	require.NoError(t, err)
	for _, st := range sts {
		assert.Equal(t, "3.6.8", st.Version)
		assert.NotZero(t, st.Leader, "%s follows no leader", st.Member)
	}
	t.Logf("leader %s, followers %v", leader, followers)
}

func names(cs []*scenarios.Container) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

var _ = strings.Contains
var _ = context.Background
