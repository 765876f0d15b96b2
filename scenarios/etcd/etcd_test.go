package etcd_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills/load"
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
		{"unknown data placement", etcd.WithData(etcd.DataPlacement(7)), "want etcd.DataOnContainer, etcd.DataOnVolume or etcd.DataOnTmpfs"},
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
	f, err := c.Follower(ctx)
	require.NoError(t, err)
	assert.Contains(t, followers, f)
	healthy, err := c.Healthy().Read(ctx)
	require.NoError(t, err)
	assert.InDelta(t, float64(etcd.Size), healthy, 0)
	t.Logf("leader %s, followers %v", leader, followers)

	// A member stopped no longer counts as healthy, and is not the leader.
	require.NoError(t, followers[0].Stop(ctx, time.Second))
	healthy, err = c.Healthy().Read(ctx)
	require.NoError(t, err)
	assert.InDelta(t, float64(etcd.Size-1), healthy, 0)
	now, err := c.LeaderMember(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, followers[0], now)
}

// TestNoLeaderWithoutAnswers: when no member answers, Leader and
// Followers say so with ErrNoLeader.
func TestNoLeaderWithoutAnswers(t *testing.T) {
	t.Parallel()
	c := &etcd.Cluster{}
	_, err := c.Leader(t.Context())
	require.ErrorIs(t, err, etcd.ErrNoLeader)
	_, err = c.Followers(t.Context())
	require.ErrorIs(t, err, etcd.ErrNoLeader)
	_, err = c.FollowerPeerLink(t.Context())
	require.ErrorIs(t, err, etcd.ErrNoLeader)
}

// TestLandedCountsEveryApplication shows that the read-back can tell a
// duplicate from a retry: a key created once is listed once even when the
// create is retried; a key put twice (a plain put retried) is listed
// twice, which the drill engine counts as duplicated.
func TestLandedCountsEveryApplication(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker (skipped under -short)")
	}
	c := etcd.Start(t)
	ctx := t.Context()
	once := c.Puts(load.Constant(1))
	twice := c.Puts(load.Constant(1), etcd.WithPlainPuts())
	for range 2 { // the same request twice: a retry
		_, err := once.Op(ctx, 7)
		require.NoError(t, err)
		_, err = twice.Op(ctx, 7)
		require.NoError(t, err)
	}
	onceKey, err := once.Op(ctx, 7)
	require.NoError(t, err)
	twiceKey, err := twice.Op(ctx, 8)
	require.NoError(t, err)
	ids, err := c.Landed(ctx)
	require.NoError(t, err)
	count := func(prefix string) int {
		return len(slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !strings.HasPrefix(id, prefix) }))
	}
	assert.Equal(t, 1, count(onceKey), "a retried create is applied once: %v", ids)
	twicePrefix := strings.TrimSuffix(twiceKey, "00000008")
	assert.Equal(t, 3, count(twicePrefix), "a retried plain put is applied twice (key 7) plus key 8 once: %v", ids)
}

// TestKilledMemberRejoinsWithItsData kills a member and starts the same
// container again, as Kill's revert does: it rejoins with its data (its
// member id unchanged) and the keys written while it was down reach it.
func TestKilledMemberRejoinsWithItsData(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker (skipped under -short)")
	}
	for _, p := range []struct {
		name string
		data etcd.DataPlacement
	}{{"container-filesystem", etcd.DataOnContainer}, {"named-volume", etcd.DataOnVolume}} {
		t.Run(p.name, func(t *testing.T) {
			c := killAndStart(t, etcd.WithData(p.data))
			if p.data == etcd.DataOnVolume {
				assert.Equal(t, []scenarios.Mount{{Type: scenarios.MountVolume, Source: "etcd1-data", Target: "/etcd"}}, c.Members[0].Spec.Mounts)
			} else {
				assert.Empty(t, c.Members[0].Spec.Mounts)
			}
		})
	}
}

func killAndStart(t *testing.T, opts ...etcd.Option) *etcd.Cluster {
	t.Helper()
	c := etcd.Start(t, opts...)
	ctx := t.Context()
	m, err := c.LeaderMember(ctx)
	require.NoError(t, err)
	before, err := c.Status(ctx, m)
	require.NoError(t, err)
	require.NoError(t, m.Kill(ctx, "SIGKILL"))
	w := c.Puts(load.Constant(1))
	key, err := w.Op(ctx, 1) // written while the member is down
	require.NoError(t, err)
	began := time.Now()
	require.NoError(t, m.Start(ctx))
	require.NoError(t, m.WaitReady(ctx), "the member must come back")
	t.Logf("%s back and healthy %v after its start", m.Name, time.Since(began))
	after, err := c.Status(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, before.ID, after.ID, "same member, same data")
	assert.GreaterOrEqual(t, after.RaftIndex, before.RaftIndex)
	ids, err := c.Landed(ctx)
	require.NoError(t, err)
	assert.Contains(t, ids, key)
	return c
}

// TestPutsRejectUnknownMember: OnlyThrough a name that is not a member
// makes the workload invalid, with the fix in the error.
func TestPutsRejectUnknownMember(t *testing.T) {
	t.Parallel()
	c := &etcd.Cluster{}
	err := c.Puts(load.Constant(1), etcd.OnlyThrough("etcd9")).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `OnlyThrough("etcd9"): not a member (want etcd1, etcd2 or etcd3)`)
}
