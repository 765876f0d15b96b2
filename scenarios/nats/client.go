package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// StreamInfo asks JetStream for the stream's info (answered by its
// leader); it fails while the stream has no leader.
func (c *Cluster) StreamInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	s, err := c.admin.Stream(ctx, c.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", c.Stream, err)
	}
	return s.CachedInfo(), nil
}

// StreamLeaderMember returns the member that leads the stream now, as
// JetStream reports it (the stream info's cluster.leader).
func (c *Cluster) StreamLeaderMember(ctx context.Context) (*scenarios.Container, error) {
	info, err := c.StreamInfo(ctx)
	if err != nil {
		return nil, err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return nil, fmt.Errorf("stream %s: %w", c.Stream, errNoLeader)
	}
	m := c.Member(info.Cluster.Leader)
	if m == nil {
		return nil, fmt.Errorf("stream %s: leader %q is not a member of this cluster", c.Stream, info.Cluster.Leader)
	}
	return m, nil
}

// StreamLeader is [Cluster.StreamLeaderMember] as a fault target, for a
// fault aimed at whoever leads when it fires:
// faults.Kill(faults.Choose("leader", cluster.StreamLeader), "SIGKILL").
func (c *Cluster) StreamLeader(ctx context.Context) (faults.ContainerTarget, error) {
	return c.StreamLeaderMember(ctx)
}

// Followers returns the members that hold a replica of the stream but do
// not lead it now, in name order.
func (c *Cluster) Followers(ctx context.Context) ([]*scenarios.Container, error) {
	info, err := c.StreamInfo(ctx)
	if err != nil {
		return nil, err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return nil, fmt.Errorf("stream %s: %w", c.Stream, errNoLeader)
	}
	var out []*scenarios.Container
	for _, p := range info.Cluster.Replicas {
		if m := c.Member(p.Name); m != nil {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *scenarios.Container) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("stream %s (R%d) has no followers", c.Stream, c.Replicas)
	}
	return out, nil
}

// Follower returns the first of [Cluster.Followers] as a fault target:
// faults.CPU(faults.Choose("follower", cluster.Follower), 0.05).
func (c *Cluster) Follower(ctx context.Context) (faults.ContainerTarget, error) {
	f, err := c.Followers(ctx)
	if err != nil {
		return nil, err
	}
	return f[0], nil
}

// MetaLeader returns the member that leads JetStream's meta group (the
// cluster-wide API: stream and consumer creation), as the monitoring
// endpoint /jsz of the first reachable member reports it.
func (c *Cluster) MetaLeader(ctx context.Context) (*scenarios.Container, error) {
	var errs []error
	for _, m := range c.Members {
		name, err := c.metaLeaderSeenBy(ctx, m.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if mc := c.Member(name); mc != nil {
			return mc, nil
		}
		errs = append(errs, fmt.Errorf("%s: meta leader %q is not a member", m.Name, name))
	}
	return nil, fmt.Errorf("meta leader: %w", errors.Join(errs...))
}

func (c *Cluster) metaLeaderSeenBy(ctx context.Context, member string) (string, error) {
	base, err := c.MonitorURL(ctx, member)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/jsz", nil)
	if err != nil {
		return "", err
	}
	hc := http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s /jsz: %w", member, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var jsz struct {
		Meta *struct {
			Leader string `json:"leader"`
		} `json:"meta_cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		return "", fmt.Errorf("%s /jsz: %w", member, err)
	}
	if jsz.Meta == nil || jsz.Meta.Leader == "" {
		return "", fmt.Errorf("%s /jsz: no meta leader now", member)
	}
	return jsz.Meta.Leader, nil
}

// PublishOption configures [Cluster.Publish].
type PublishOption func(*publisher) error

// WithoutDedupe publishes without the Nats-Msg-Id header, so JetStream
// cannot recognise a retry: a publish whose ack was lost (a leader killed
// after storing it) and that the client retries is stored twice. The
// integrity check then counts those duplicates.
func WithoutDedupe() PublishOption {
	return func(p *publisher) error {
		p.dedupe = false
		return nil
	}
}

// WithAttemptTimeout bounds each publish attempt's wait for its ack
// (default 500 ms); a timed-out attempt is retried until the workload's
// timeout.
func WithAttemptTimeout(d time.Duration) PublishOption {
	return func(p *publisher) error {
		if d < 10*time.Millisecond {
			return fmt.Errorf("attempt timeout %v: use at least 10ms", d)
		}
		p.attempt = d
		return nil
	}
}

// WithLoadOptions passes options to the workload (load.New), after the
// defaults (name "nats-publish", timeout 2 s).
func WithLoadOptions(opts ...load.Option) PublishOption {
	return func(p *publisher) error {
		p.load = append(p.load, opts...)
		return nil
	}
}

// WithMembers connects the workload's client to the named members only
// (default: all three). The slow-follower drill keeps the client off the
// member it slows: a client attached to a member whose routes are slow
// waits on those routes for every ack, whatever the quorum.
func WithMembers(names ...string) PublishOption {
	return func(p *publisher) error {
		if len(names) == 0 {
			return errors.New("WithMembers: name at least one member")
		}
		for _, n := range names {
			if !slices.Contains(Members(), n) {
				return fmt.Errorf("WithMembers: %q is not a member; use %v", n, Members())
			}
		}
		p.members = names
		return nil
	}
}

type publisher struct {
	members []string
	dedupe  bool
	attempt time.Duration
	load    []load.Option
}

// publishes numbers the Publish workloads of the process, so that each has
// its own message ids.
var publishes atomic.Int64

// Publish is an open-model workload of JetStream publishes to the stream's
// subject, one message a request. Each message's payload is its id
// ("p<n>-<seq>", unique per publish), which is also the request's AckID;
// a request is acknowledged when its PubAck arrives. An attempt whose ack
// does not come within the attempt timeout (500 ms), or that JetStream
// refuses (no leader during an election), is retried with the same id
// until the workload's timeout (2 s; WithLoadOptions(load.WithTimeout(d))
// to change).
//
// Every attempt carries the Nats-Msg-Id header set to the id, and the
// stream's dedupe window (2 min, longer than any retry) makes JetStream
// store a retried publish once: this is how JetStream producers avoid
// duplicates, so a duplicate in the drill is JetStream's dedupe failing,
// not a retry by design. [WithoutDedupe] drops the header.
//
// It panics on an invalid option (a programming error).
func (c *Cluster) Publish(p load.Pacer, opts ...PublishOption) load.Workload {
	pub := publisher{members: Members(), dedupe: true, attempt: 500 * time.Millisecond}
	for _, o := range opts {
		if err := o(&pub); err != nil {
			panic("nats: Publish: " + err.Error())
		}
	}
	n := publishes.Add(1)
	var js jetstream.JetStream
	var connErr error
	nc, err := c.connect(pub.members, natsgo.Name(fmt.Sprintf("firedrill-publish-%d", n)))
	if err != nil {
		connErr = err
	} else if js, err = jetstream.New(nc); err != nil {
		connErr = err
	}
	op := func(ctx context.Context, seq uint64) (string, error) {
		if connErr != nil {
			return "", connErr
		}
		id := fmt.Sprintf("p%d-%d", n, seq)
		return id, pub.publish(ctx, js, c.Subject, id)
	}
	return load.New(p, op, append([]load.Option{load.WithName("nats-publish"), load.WithTimeout(2 * time.Second)}, pub.load...)...)
}

func (p publisher) publish(ctx context.Context, js jetstream.JetStream, subject, id string) error {
	msg := natsgo.NewMsg(subject)
	msg.Data = []byte(id)
	var popts []jetstream.PublishOpt
	if p.dedupe {
		popts = append(popts, jetstream.WithMsgID(id))
	}
	for {
		actx, cancel := context.WithTimeout(ctx, p.attempt)
		_, err := js.PublishMsg(actx, msg, popts...)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publish %s: %w", id, err)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("publish %s: %w", id, err)
		}
	}
}

// Landed reads the whole stream back from its first message to its last
// and returns each message's payload (the Publish ids), in stream order: an
// id stored twice appears twice. It is the drills' Integrity reader
// (drills.LandedFunc(cluster.Landed)). Each call reads through a new
// ordered consumer, so a message the stream lost after an earlier read is
// missed again; creating it needs the JetStream meta leader (see the
// README: after a partition heals the meta group may re-elect, and the
// stream cannot be read back for some seconds).
func (c *Cluster) Landed(ctx context.Context) ([]string, error) {
	// Right after an election the JetStream API can have no responder for
	// a moment ("no responders available"): read again, a few times, rather
	// than fail the read (or count what it could not read as lost).
	var err error
	for attempt := 0; attempt < landedAttempts; attempt++ {
		var ids []string
		ids, err = c.landedOnce(ctx)
		if err == nil || !errors.Is(err, natsgo.ErrNoResponders) {
			return ids, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("landed: %w (after %w)", ctx.Err(), err)
		case <-time.After(landedRetryPause):
		}
	}
	return nil, err
}

// How Landed reads again when the JetStream API has no responder.
const (
	landedAttempts   = 10
	landedRetryPause = 250 * time.Millisecond
)

// landedOnce reads the whole stream once through a new ordered consumer.
func (c *Cluster) landedOnce(ctx context.Context) ([]string, error) {
	s, err := c.admin.Stream(ctx, c.Stream)
	if err != nil {
		return nil, fmt.Errorf("landed: stream %s: %w", c.Stream, err)
	}
	state := s.CachedInfo().State
	if state.Msgs == 0 {
		return nil, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{InactiveThreshold: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("landed: ordered consumer on %s: %w", c.Stream, err)
	}
	ids := make([]string, 0, state.Msgs)
	var seen uint64 // the last stream sequence read
	for seen < state.LastSeq {
		// No more than what is left: a full batch returns at once, where a
		// larger one would wait out FetchMaxWait.
		batch, err := cons.Fetch(int(min(1000, state.LastSeq-seen)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("landed: fetch from %s: %w", c.Stream, err)
		}
		before := seen
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("landed: message metadata: %w", err)
			}
			ids = append(ids, string(m.Data()))
			seen = md.Sequence.Stream
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("landed: fetch from %s: %w", c.Stream, err)
		}
		if seen == before {
			// A partial read would count the rest as lost: fail instead.
			return nil, fmt.Errorf("landed: read %s up to sequence %d of %d, then nothing came", c.Stream, seen, state.LastSeq)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("landed: %w", err)
		}
	}
	return ids, nil
}
