package faults_test

import (
	"context"
	"errors"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

// member is a container target with a name and, optionally, tmpfs mounts.
type member struct {
	faults.ContainerTarget
	name  string
	tmpfs []string
}

func (m member) String() string { return m.name }

func (m member) TmpfsMounts(context.Context) ([]string, error) { return m.tmpfs, nil }

// leaderLookup answers the members in turn, each after delay, counting
// its calls.
type leaderLookup struct {
	answers []faults.ContainerTarget
	delay   time.Duration
	calls   int
}

func (l *leaderLookup) find(ctx context.Context) (faults.ContainerTarget, error) {
	select {
	case <-time.After(l.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	i := min(l.calls, len(l.answers)-1)
	l.calls++
	return l.answers[i], nil
}

func TestChooseResolvesOutsideTheBracketAndNamesTheChoice(t *testing.T) {
	c1, c2 := newMockContainerTarget(t), newMockContainerTarget(t)
	c1.EXPECT().Kill(mock.Anything, "SIGKILL").Return(nil).Twice() // injected twice while in effect
	c2.EXPECT().Kill(mock.Anything, "SIGKILL").Return(nil).Once()
	for _, c := range []*mockContainerTarget{c1, c2} {
		c.EXPECT().State(mock.Anything).Return(exited, nil)
		c.EXPECT().Start(mock.Anything).Return(nil).Once()
		c.EXPECT().WaitReady(mock.Anything).Return(nil).Once()
	}
	lookup := &leaderLookup{answers: []faults.ContainerTarget{member{c1, "etcd1", nil}, member{c2, "etcd2", nil}}, delay: 60 * time.Millisecond}
	leader := faults.Choose("leader", lookup.find)
	f := faults.Kill(leader, "SIGKILL")
	assert.Equal(t, "kill(leader?, SIGKILL)", f.Name())

	in := faults.NewInjector()
	r := in.Do(ctx, faults.Action{Fault: f})
	require.NoError(t, r.Err)
	assert.Equal(t, "kill(etcd1 = leader, SIGKILL)", r.Fault, "the record names what was chosen")
	assert.Less(t, r.Bracket.Width(), 50*time.Millisecond, "the 60 ms lookup ran before the bracket opened")

	// In effect: injecting again must not re-choose (the revert must act on etcd1).
	_ = in.Do(ctx, faults.Action{Fault: f})
	assert.Equal(t, 1, lookup.calls, "a fault in effect keeps its choice")
	r = in.Do(ctx, faults.Action{Fault: f, Revert: true})
	require.NoError(t, r.Err)
	assert.Equal(t, "kill(etcd1 = leader, SIGKILL)", r.Fault)

	// The next inject chooses anew: the leader is another member now.
	r = in.Do(ctx, faults.Action{Fault: f})
	require.NoError(t, r.Err)
	assert.Equal(t, "kill(etcd2 = leader, SIGKILL)", r.Fault)
	require.NoError(t, in.RevertAll(ctx))
	assert.Equal(t, 2, lookup.calls)
}

func TestChooseLookupFailureInjectsNothing(t *testing.T) {
	leader := faults.Choose("leader", func(context.Context) (faults.ContainerTarget, error) {
		return nil, errors.New("no member answers the status call")
	})
	in := faults.NewInjector()
	r := in.Do(ctx, faults.Action{Fault: faults.Kill(leader, "SIGKILL")})
	require.Error(t, r.Err)
	require.ErrorContains(t, r.Err, "choose leader: no member answers the status call")
	assert.Empty(t, in.Active(), "nothing is in effect")

	nilAnswer := faults.Choose("leader", func(context.Context) (faults.ContainerTarget, error) { return nil, nil })
	r = in.Do(ctx, faults.Action{Fault: faults.Pause(nilAnswer)})
	require.ErrorContains(t, r.Err, "the lookup returned no target")

	r = in.Do(ctx, faults.Action{Fault: faults.Kill(faults.Choose("leader", nil), "")})
	assert.ErrorIs(t, r.Err, faults.ErrNoTarget)
}

func TestChooseUnresolvedRefusesToAct(t *testing.T) {
	leader := faults.Choose("leader", func(context.Context) (faults.ContainerTarget, error) { return nil, nil })
	// Injected without an Injector, nothing chose: the target refuses.
	err := faults.Kill(leader, "SIGKILL").Inject(ctx)
	require.ErrorIs(t, err, faults.ErrUnresolved)
	_, err = leader.State(ctx)
	assert.ErrorIs(t, err, faults.ErrUnresolved)
}

func TestChooseAcrossKinds(t *testing.T) {
	nt := newMockNetworkTarget(t)
	nt.EXPECT().Disconnect(mock.Anything).Return(nil).Once()
	nt.EXPECT().Connect(mock.Anything).Return(nil).Once()
	part := faults.Choose("leader", func(context.Context) (faults.ContainerTarget, error) {
		return networkMember{mockNetworkTarget: nt}, nil
	})
	in := faults.NewInjector()
	r := in.Do(ctx, faults.Action{Fault: faults.Partition(part)})
	require.NoError(t, r.Err)
	assert.Equal(t, "partition(nats2 = leader)", r.Fault)
	require.NoError(t, in.RevertAll(ctx))

	// A chosen target that cannot do what the fault needs says so.
	plain := faults.Choose("leader", func(context.Context) (faults.ContainerTarget, error) {
		return member{newMockContainerTarget(t), "etcd3", nil}, nil
	})
	r = in.Do(ctx, faults.Action{Fault: faults.Partition(plain)})
	require.ErrorContains(t, r.Err, "etcd3")
	assert.ErrorContains(t, r.Err, "does not leave its network")
}

// networkMember is a container that can leave its network.
type networkMember struct {
	faults.ContainerTarget
	*mockNetworkTarget
}

func (networkMember) String() string { return "nats2" }

func (m networkMember) State(ctx context.Context) (faults.State, error) {
	return m.mockNetworkTarget.State(ctx)
}

func TestChooseLinkForToxics(t *testing.T) {
	l := newMockToxicTarget(t)
	l.EXPECT().AddToxic(mock.Anything, mock.MatchedBy(func(tx toxiproxy.Toxic) bool { return tx.Type == "latency" })).Return(nil).Once()
	l.EXPECT().RemoveToxic(mock.Anything, mock.Anything).Return(nil).Once()
	into := faults.ChooseLink("link into a follower", func(context.Context) (faults.ToxicTarget, error) {
		return namedLink{l, "peer->etcd3"}, nil
	})
	in := faults.NewInjector()
	r := in.Do(ctx, faults.Action{Fault: faults.Latency(into, 200*time.Millisecond)})
	require.NoError(t, r.Err)
	assert.Contains(t, r.Fault, "peer->etcd3 = link into a follower")
	require.NoError(t, in.RevertAll(ctx))
}

type namedLink struct {
	faults.ToxicTarget
	name string
}

func (n namedLink) String() string { return n.name }

func TestKillRefusesToEmptyATmpfsOnRevert(t *testing.T) {
	c := newMockContainerTarget(t) // no Kill expected: refused before anything is sent
	m := member{c, "etcd2", []string{"/data"}}
	in := faults.NewInjector()
	r := in.Do(ctx, faults.Action{Fault: faults.Kill(m, "SIGKILL")})
	require.ErrorIs(t, r.Err, faults.ErrTmpfsRestart)
	require.ErrorContains(t, r.Err, "etcd2 has tmpfs /data")
	require.ErrorContains(t, r.Err, ".KeepDown() or .AllowEmptyTmpfs()")
	assert.Empty(t, in.Active())

	r = in.Do(ctx, faults.Action{Fault: faults.Stop(m, time.Second)})
	require.ErrorIs(t, r.Err, faults.ErrTmpfsRestart)

	// Either choice lets it through.
	c.EXPECT().Kill(mock.Anything, "SIGKILL").Return(nil).Twice()
	c.EXPECT().State(mock.Anything).Return(exited, nil)
	c.EXPECT().Start(mock.Anything).Return(nil).Once()
	c.EXPECT().WaitReady(mock.Anything).Return(nil).Once()
	for _, f := range []faults.Fault{faults.Kill(m, "SIGKILL").KeepDown(), faults.Kill(m, "SIGKILL").AllowEmptyTmpfs()} {
		r = in.Do(ctx, faults.Action{Fault: f})
		require.NoError(t, r.Err, f.Name())
	}
	require.NoError(t, in.RevertAll(ctx))

	// No tmpfs: the default restarts it.
	c2 := newMockContainerTarget(t)
	c2.EXPECT().Kill(mock.Anything, "SIGKILL").Return(nil).Once()
	c2.EXPECT().State(mock.Anything).Return(exited, nil)
	c2.EXPECT().Start(mock.Anything).Return(nil).Once()
	c2.EXPECT().WaitReady(mock.Anything).Return(nil).Once()
	r = in.Do(ctx, faults.Action{Fault: faults.Kill(member{c2, "etcd1", nil}, "SIGKILL")})
	require.NoError(t, r.Err)
	require.NoError(t, in.RevertAll(ctx))
}
