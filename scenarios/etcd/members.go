package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// Status is one member's view of the cluster, from etcd's maintenance
// Status call (POST /v3/maintenance/status on the member's own client
// port, not through its link).
type Status struct {
	// Member is the member's name; ID its etcd member id.
	Member string
	ID     uint64
	// Leader is the id of the leader this member follows (0: none known).
	Leader uint64
	// RaftTerm, RaftIndex (the last entry it has) and RaftAppliedIndex
	// (the last it applied).
	RaftTerm, RaftIndex, RaftAppliedIndex uint64
	// Version is the member's etcd version ("3.6.8").
	Version string
	// Errors are the member's alarms and errors, if any.
	Errors []string
}

// statusTimeout bounds one Status call: a member that takes longer (cut
// off, stopped) counts as not answering.
const statusTimeout = time.Second

// Status asks member m for its status.
func (c *Cluster) Status(ctx context.Context, m *scenarios.Container) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	addr, err := m.Endpoint(ctx, ClientPort)
	if err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", m.Name, err)
	}
	var res statusResponse
	if err := call(ctx, c.http, addr, "/v3/maintenance/status", struct{}{}, &res); err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", m.Name, err)
	}
	st := Status{
		Member: m.Name, ID: res.Header.MemberID.uint(), Leader: res.Leader.uint(),
		RaftTerm: res.RaftTerm.uint(), RaftIndex: res.RaftIndex.uint(), RaftAppliedIndex: res.RaftAppliedIndex.uint(),
		Version: res.Version, Errors: res.Errors,
	}
	c.mu.Lock()
	c.ids[st.ID] = m.Name
	c.mu.Unlock()
	return st, nil
}

// Statuses asks every member at once and returns the answers of those that
// answered (in member order) and the errors of the others.
func (c *Cluster) Statuses(ctx context.Context) ([]Status, error) {
	out := make([]*Status, len(c.Members))
	errs := make([]error, len(c.Members))
	var wg sync.WaitGroup
	for i, m := range c.Members {
		wg.Go(func() {
			st, err := c.Status(ctx, m)
			if err == nil {
				out[i] = &st
			}
			errs[i] = err
		})
	}
	wg.Wait()
	var sts []Status
	for _, st := range out {
		if st != nil {
			sts = append(sts, *st)
		}
	}
	return sts, errors.Join(errs...)
}

// view is the cluster as the members that answered see it: the leader
// reported in the highest term, and who answered.
type view struct {
	leader   string // member name, "" if none known
	answered []Status
	errs     error
}

func (c *Cluster) view(ctx context.Context) view {
	sts, errs := c.Statuses(ctx)
	v := view{answered: sts, errs: errs}
	var term uint64
	var leader uint64
	for _, st := range sts {
		if st.Leader != 0 && st.RaftTerm >= term {
			term, leader = st.RaftTerm, st.Leader
		}
	}
	c.mu.Lock()
	v.leader = c.ids[leader]
	c.mu.Unlock()
	return v
}

func (v view) noLeader() error {
	if v.errs != nil {
		return fmt.Errorf("%w among the %d members that answered (%w)", ErrNoLeader, len(v.answered), v.errs)
	}
	return fmt.Errorf("%w: no member reports one", ErrNoLeader)
}

// Leader finds the member that is leader now, as etcd reports it (the
// leader named in the highest term among the members that answer Status).
// It is the finder for faults chosen when they fire:
//
//	faults.Kill(faults.Choose("leader", cluster.Leader), "SIGKILL")
func (c *Cluster) Leader(ctx context.Context) (faults.ContainerTarget, error) {
	m, err := c.LeaderMember(ctx)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// LeaderMember is Leader with the member's concrete type.
func (c *Cluster) LeaderMember(ctx context.Context) (*scenarios.Container, error) {
	v := c.view(ctx)
	if v.leader == "" {
		return nil, v.noLeader()
	}
	return c.Member(v.leader), nil
}

// Followers returns the members that are not the leader now, in member
// order (a member that does not answer is still listed: it is not the
// leader).
func (c *Cluster) Followers(ctx context.Context) ([]*scenarios.Container, error) {
	v := c.view(ctx)
	if v.leader == "" {
		return nil, v.noLeader()
	}
	var out []*scenarios.Container
	for _, m := range c.Members {
		if m.Name != v.leader {
			out = append(out, m)
		}
	}
	return out, nil
}

// Follower finds a follower now: the first member in member order that
// answers and follows the current leader. It is the finder for container
// faults on "a follower":
//
//	faults.CPU(faults.Choose("follower", cluster.Follower), 0.05)
func (c *Cluster) Follower(ctx context.Context) (faults.ContainerTarget, error) {
	m, err := c.followerMember(ctx)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (c *Cluster) followerMember(ctx context.Context) (*scenarios.Container, error) {
	v := c.view(ctx)
	if v.leader == "" {
		return nil, v.noLeader()
	}
	for _, st := range v.answered {
		if st.Member != v.leader && st.Leader != 0 {
			return c.Member(st.Member), nil
		}
	}
	return nil, fmt.Errorf("no follower of %s answers: %w", v.leader, v.errs)
}

// FollowerPeerLink finds the peer link of a follower now (see Follower):
// the link that carries what that follower sends its peers. It is the
// finder for a slow follower:
//
//	faults.Latency(faults.ChooseLink("follower", cluster.FollowerPeerLink), 500*time.Millisecond)
func (c *Cluster) FollowerPeerLink(ctx context.Context) (faults.ToxicTarget, error) {
	m, err := c.followerMember(ctx)
	if err != nil {
		return nil, err
	}
	return c.PeerLinks[slices.Index(c.Members, m)], nil
}
