package nats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/scenarios"
	"github.com/firedrill/firedrill/scenarios/nats"
)

func TestMemberConfigRoutesThroughItsLinks(t *testing.T) {
	t.Parallel()
	conf := string(nats.MemberConfig(nats.Nats1))
	assert.Contains(t, conf, "server_name: nats1\n")
	assert.Contains(t, conf, "    $ROUTE_NATS2\n    $ROUTE_NATS3\n")
	assert.Contains(t, conf, `store_dir: "/data"`)
	assert.Contains(t, conf, "no_advertise: true")
	assert.Contains(t, conf, `advertise: "127.0.0.1:1"`, "no member may dial another around the links")
	conf3 := string(nats.MemberConfig(nats.Nats3))
	assert.NotContains(t, conf3, "$ROUTE", "nats3 dials nobody")
	assert.Contains(t, conf3, "nats-route://127.0.0.1:6222", "a route to itself: JetStream's cluster mode needs one configured route")
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
	var links []string
	for _, l := range sys.Links {
		links = append(links, l.Name)
	}
	assert.Equal(t, []string{"route-nats1-nats2", "route-nats1-nats3", "route-nats2-nats3"}, links)
	assert.Equal(t, "nats-route://${link:route-nats1-nats3}", sys.Containers[0].Env["ROUTE_NATS3"])
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

	requireRoutesThroughLinks(t, c)

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

	// A retry (the same id published again) is stored once with the
	// Nats-Msg-Id header, twice without it: the read-back counts it.
	_, err = w.Op(ctx, 0)
	require.NoError(t, err)
	raw := c.Publish(load.Constant(200), nats.WithoutDedupe())
	for range 2 {
		_, err = raw.Op(ctx, 0)
		require.NoError(t, err)
	}
	landed, err = c.Landed(ctx)
	require.NoError(t, err)
	require.Len(t, landed, len(acked)+2)
	assert.Equal(t, acked, landed[:len(acked)], "the deduplicated retry was not stored")
	assert.Equal(t, landed[len(acked)], landed[len(acked)+1], "without the header the retry is stored twice")
}

// requireRoutesThroughLinks asserts every route connection of every member
// passes toxiproxy: /routez shows each remote end at toxiproxy's address
// (the same IP everywhere, a proxy port on the dialing side), and each
// member is routed to both others.
func requireRoutesThroughLinks(t *testing.T, c *nats.Cluster) {
	t.Helper()
	type routez struct {
		Routes []struct {
			RemoteName string `json:"remote_name"`
			IP         string `json:"ip"`
			Port       int    `json:"port"`
			DidSolicit bool   `json:"did_solicit"`
		} `json:"routes"`
	}
	ips := map[string]bool{}
	for _, m := range nats.Members() {
		base, err := c.MonitorURL(t.Context(), m)
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/routez", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var rz routez
		err = json.NewDecoder(resp.Body).Decode(&rz)
		_ = resp.Body.Close()
		require.NoError(t, err)
		peers := map[string]bool{}
		for _, r := range rz.Routes {
			ips[r.IP] = true
			peers[r.RemoteName] = true
			if r.DidSolicit {
				assert.GreaterOrEqual(t, r.Port, scenarios.LinkPortBase, "%s dials %s at a proxy port", m, r.RemoteName)
			}
		}
		assert.Len(t, peers, 2, "%s is routed to both other members: %v", m, peers)
	}
	assert.Len(t, ips, 1, "every route's remote end is toxiproxy: %v", ips)
}

// TestKilledMemberFindsItsStore shows what the drills' store check reads:
// a member killed and started again logs "recovering state" when its store
// is on the container's filesystem (the catalogue's choice), and
// "bootstrapping" a second time when the store was a tmpfs, emptied by
// the start.
func TestKilledMemberFindsItsStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS clusters in Docker")
	}
	for _, tmpfs := range []bool{false, true} {
		t.Run(fmt.Sprintf("tmpfs=%t", tmpfs), func(t *testing.T) {
			sys := nats.System()
			for i := range sys.Containers {
				if tmpfs {
					sys.Containers[i].Tmpfs = map[string]string{nats.StoreDir: "size=64m,mode=1777"}
				}
				sys.Containers[i].Ready = scenarios.ReadyHTTP(nats.MonitorPort, "/healthz")
			}
			r := scenarios.Start(t, sys, scenarios.WithParallelStart())
			m := r.MustContainer(nats.Nats3)
			ctx := t.Context()
			require.NoError(t, m.Kill(ctx, "SIGKILL"))
			require.NoError(t, m.Start(ctx))
			require.NoError(t, m.WaitReady(ctx))
			logs, err := m.Logs(ctx, 0)
			require.NoError(t, err)
			if tmpfs {
				assert.Equal(t, 2, strings.Count(logs, "JetStream cluster bootstrapping"), "an emptied store bootstraps again")
				assert.NotContains(t, logs, "JetStream cluster recovering state")
				return
			}
			assert.Equal(t, 1, strings.Count(logs, "JetStream cluster bootstrapping"))
			assert.Contains(t, logs, "JetStream cluster recovering state")
		})
	}
}
