package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/moby/moby/client"
)

// scopedAPI is the Docker API as the handles of an attached environment
// see it: every call names a container, and a container that was not
// resolved from Environment.Containers when [Attach] ran is refused before
// anything is sent. It is what makes the refusal structural: a handle
// whose ID was changed, or any code given the handle's client, still acts
// only on the listed containers, and disconnects or connects them only on
// the network chosen for each.
type scopedAPI struct {
	api  containerAPI
	host string
	ids  map[string]string // container ID -> name, the listed containers
	nets map[string]string // container ID -> the network Partition may cut

	mu    sync.Mutex
	execs map[string]bool // exec IDs created through this API
}

var _ containerAPI = (*scopedAPI)(nil)

func newScopedAPI(api containerAPI, host string) *scopedAPI {
	return &scopedAPI{api: api, host: host, ids: map[string]string{}, nets: map[string]string{}, execs: map[string]bool{}}
}

// allow adds a resolved container (and the network it may be cut from).
func (s *scopedAPI) allow(id, name, networkID string) {
	s.ids[id] = name
	if networkID != "" {
		s.nets[id] = networkID
	}
}

// check refuses a container that was not listed.
func (s *scopedAPI) check(id string) error {
	if _, ok := s.ids[id]; ok {
		return nil
	}
	return fmt.Errorf("container %q on %s: %w: firedrill acts only on the containers resolved from Environment.Containers when it attached (%s)",
		id, s.host, ErrNotListed, strings.Join(s.names(), ", "))
}

func (s *scopedAPI) names() []string {
	out := make([]string, 0, len(s.ids))
	for _, n := range s.ids {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// checkNetwork refuses a network other than the one chosen for id.
func (s *scopedAPI) checkNetwork(networkID, id string) error {
	if err := s.check(id); err != nil {
		return err
	}
	if nw, ok := s.nets[id]; ok && nw == networkID {
		return nil
	}
	return fmt.Errorf("network %q of container %s: %w: Partition acts only on the network chosen when attaching (Environment.Networks)",
		networkID, s.ids[id], ErrNotListed)
}

func (s *scopedAPI) checkExec(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.execs[id] {
		return nil
	}
	return fmt.Errorf("exec %q: %w: it was not created in a listed container", id, ErrNotListed)
}

func (s *scopedAPI) ContainerInspect(ctx context.Context, id string, o client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	if err := s.check(id); err != nil {
		return client.ContainerInspectResult{}, err
	}
	return s.api.ContainerInspect(ctx, id, o)
}

func (s *scopedAPI) ContainerKill(ctx context.Context, id string, o client.ContainerKillOptions) (client.ContainerKillResult, error) {
	if err := s.check(id); err != nil {
		return client.ContainerKillResult{}, err
	}
	return s.api.ContainerKill(ctx, id, o)
}

func (s *scopedAPI) ContainerStop(ctx context.Context, id string, o client.ContainerStopOptions) (client.ContainerStopResult, error) {
	if err := s.check(id); err != nil {
		return client.ContainerStopResult{}, err
	}
	return s.api.ContainerStop(ctx, id, o)
}

func (s *scopedAPI) ContainerStart(ctx context.Context, id string, o client.ContainerStartOptions) (client.ContainerStartResult, error) {
	if err := s.check(id); err != nil {
		return client.ContainerStartResult{}, err
	}
	return s.api.ContainerStart(ctx, id, o)
}

func (s *scopedAPI) ContainerRestart(ctx context.Context, id string, o client.ContainerRestartOptions) (client.ContainerRestartResult, error) {
	if err := s.check(id); err != nil {
		return client.ContainerRestartResult{}, err
	}
	return s.api.ContainerRestart(ctx, id, o)
}

func (s *scopedAPI) ContainerPause(ctx context.Context, id string, o client.ContainerPauseOptions) (client.ContainerPauseResult, error) {
	if err := s.check(id); err != nil {
		return client.ContainerPauseResult{}, err
	}
	return s.api.ContainerPause(ctx, id, o)
}

func (s *scopedAPI) ContainerUnpause(ctx context.Context, id string, o client.ContainerUnpauseOptions) (client.ContainerUnpauseResult, error) {
	if err := s.check(id); err != nil {
		return client.ContainerUnpauseResult{}, err
	}
	return s.api.ContainerUnpause(ctx, id, o)
}

func (s *scopedAPI) ContainerUpdate(ctx context.Context, id string, o client.ContainerUpdateOptions) (client.ContainerUpdateResult, error) {
	if err := s.check(id); err != nil {
		return client.ContainerUpdateResult{}, err
	}
	return s.api.ContainerUpdate(ctx, id, o)
}

func (s *scopedAPI) ContainerLogs(ctx context.Context, id string, o client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	if err := s.check(id); err != nil {
		return nil, err
	}
	return s.api.ContainerLogs(ctx, id, o)
}

func (s *scopedAPI) ExecCreate(ctx context.Context, id string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
	if err := s.check(id); err != nil {
		return client.ExecCreateResult{}, err
	}
	res, err := s.api.ExecCreate(ctx, id, o)
	if err == nil {
		s.mu.Lock()
		s.execs[res.ID] = true
		s.mu.Unlock()
	}
	return res, err
}

func (s *scopedAPI) ExecAttach(ctx context.Context, execID string, o client.ExecAttachOptions) (client.ExecAttachResult, error) {
	if err := s.checkExec(execID); err != nil {
		return client.ExecAttachResult{}, err
	}
	return s.api.ExecAttach(ctx, execID, o)
}

func (s *scopedAPI) ExecInspect(ctx context.Context, execID string, o client.ExecInspectOptions) (client.ExecInspectResult, error) {
	if err := s.checkExec(execID); err != nil {
		return client.ExecInspectResult{}, err
	}
	return s.api.ExecInspect(ctx, execID, o)
}

func (s *scopedAPI) NetworkConnect(ctx context.Context, networkID string, o client.NetworkConnectOptions) (client.NetworkConnectResult, error) {
	if err := s.checkNetwork(networkID, o.Container); err != nil {
		return client.NetworkConnectResult{}, err
	}
	return s.api.NetworkConnect(ctx, networkID, o)
}

func (s *scopedAPI) NetworkDisconnect(ctx context.Context, networkID string, o client.NetworkDisconnectOptions) (client.NetworkDisconnectResult, error) {
	if err := s.checkNetwork(networkID, o.Container); err != nil {
		return client.NetworkDisconnectResult{}, err
	}
	return s.api.NetworkDisconnect(ctx, networkID, o)
}

// Events streams the events of listed containers only: the filter must
// name containers, all of them listed.
func (s *scopedAPI) Events(ctx context.Context, o client.EventsListOptions) client.EventsResult {
	cs := o.Filters["container"]
	err := fmt.Errorf("events: %w: the filter must name listed containers only", ErrNotListed)
	if len(cs) > 0 {
		err = nil
		for id := range cs {
			if cerr := s.check(id); cerr != nil {
				err = cerr
				break
			}
		}
	}
	if err != nil {
		errs := make(chan error, 1)
		errs <- err
		// No Messages channel: a reader sees the error, never an empty,
		// successful stream.
		return client.EventsResult{Err: errs}
	}
	return s.api.Events(ctx, o)
}
