package nats_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/scenarios/nats"
)

func TestMemberConfigRoutesToEveryMember(t *testing.T) {
	t.Parallel()
	conf := string(nats.MemberConfig(nats.Nats2))
	assert.Contains(t, conf, "server_name: nats2\n")
	for _, m := range nats.Members() {
		assert.Contains(t, conf, "nats-route://"+m+":6222")
	}
	assert.Contains(t, conf, `store_dir: "/data"`)
	assert.Contains(t, conf, "no_advertise: true")
}

func TestSystemKeepsTheStoreOffTmpfs(t *testing.T) {
	t.Parallel()
	sys := nats.System()
	require.NoError(t, sys.Validate())
	require.Len(t, sys.Containers, 3)
	for _, c := range sys.Containers {
		assert.Empty(t, c.Tmpfs, "%s: a tmpfs store is lost on kill, and the member could not rejoin", c.Name)
		assert.Equal(t, nats.MemberConfig(c.Name), c.Files[nats.ConfigPath])
		assert.Equal(t, []string{"-c", nats.ConfigPath}, c.Cmd)
	}
}

func TestBadOptionsAreRefusedWithTheFix(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opt  nats.Option
		want string
	}{
		{"replicas 0", nats.WithReplicas(0), "replicas 0: the cluster has 3 members, use 1 to 3"},
		{"replicas 4", nats.WithReplicas(4), "replicas 4: the cluster has 3 members"},
		{"stream name", nats.WithStream("a.b", "x"), `stream name "a.b": use letters, digits`},
		{"wildcard subject", nats.WithStream("S", "orders.>"), `stream subject "orders.>": give one literal subject`},
		{"dedupe", nats.WithDedupeWindow(time.Millisecond), "dedupe window 1ms: use 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := nats.StartContext(context.Background(), tt.opt)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestClusterStartsWithAReplicatedStream starts the cluster, finds the
// stream's leader and followers through JetStream, publishes, and reads
// every acknowledged id back once.
func TestClusterStartsWithAReplicatedStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster in Docker")
	}
	start := time.Now()
	c := nats.Start(t)
	t.Logf("cluster and R3 stream ready in %v", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()

	urls, err := c.ClientURLs(ctx)
	require.NoError(t, err)
	require.Len(t, urls, 3)
	for _, u := range urls {
		assert.True(t, strings.HasPrefix(u, "nats://127.0.0.1:"), u)
	}
	leader, err := c.StreamLeaderMember(ctx)
	require.NoError(t, err)
	followers, err := c.Followers(ctx)
	require.NoError(t, err)
	require.Len(t, followers, 2)
	for _, f := range followers {
		assert.NotEqual(t, leader.Name, f.Name)
	}
	meta, err := c.MetaLeader(ctx)
	require.NoError(t, err)
	assert.Contains(t, nats.Members(), meta.Name)
	t.Logf("stream leader %s, followers %s %s, meta leader %s", leader, followers[0], followers[1], meta)

	w := c.Publish(load.Constant(200))
	var acked []string
	for seq := range uint64(50) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		id, err := w.Op(pctx, seq)
		cancel()
		require.NoError(t, err)
		acked = append(acked, id)
	}
	landed, err := c.Landed(ctx)
	require.NoError(t, err)
	assert.Equal(t, acked, landed, "every acknowledged publish is in the stream once, in order")
}
