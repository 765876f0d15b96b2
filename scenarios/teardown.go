package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// teardown removes the containers ids (force, volumes, in parallel), then
// any other container labelled with instance, then the network(s) and the
// named volumes of the instance. Resources already gone are not errors.
func teardown(ctx context.Context, d reaperAPI, ids []string, networkID, instance string) error {
	var (
		mu   sync.Mutex
		errs []error
	)
	note := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	removeAll := func(ids []string) {
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				_, err := d.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
				if err != nil && !isNotFound(err) {
					note(fmt.Errorf("remove container %s: %w", short(id), err))
				}
			})
		}
		wg.Wait()
	}
	removeAll(ids)

	filter := client.Filters{}.Add("label", LabelInstance+"="+instance)
	if instance != "" {
		list, err := d.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
		if err != nil {
			note(fmt.Errorf("list leftover containers: %w", err))
		} else {
			var left []string
			for _, c := range list.Items {
				left = append(left, c.ID)
			}
			removeAll(left)
		}
	}

	nets := []string{}
	if networkID != "" {
		nets = append(nets, networkID)
	}
	if instance != "" {
		list, err := d.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
		if err != nil {
			note(fmt.Errorf("list leftover networks: %w", err))
		} else {
			for _, n := range list.Items {
				if n.ID != networkID {
					nets = append(nets, n.ID)
				}
			}
		}
	}
	for _, id := range nets {
		if _, err := d.NetworkRemove(ctx, id, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			note(fmt.Errorf("remove network %s: %w", short(id), err))
		}
	}
	if instance != "" {
		if _, err := removeVolumes(ctx, d, filter, nil); err != nil {
			note(err)
		}
	}
	return errors.Join(errs...)
}

// removeVolumes removes the volumes that match filter and carry every
// label of want (when given), and returns their names.
func removeVolumes(ctx context.Context, d reaperAPI, filter client.Filters, want []string) ([]string, error) {
	list, err := d.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var (
		removed []string
		errs    []error
	)
	for _, v := range list.Items {
		if want != nil && !hasLabels(v.Labels, want) {
			continue // the daemon filtered; this guards against a filter it ignored
		}
		if _, err := d.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
			continue
		}
		removed = append(removed, v.Name)
	}
	return removed, errors.Join(errs...)
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// registerEnd registers an end hook and returns the function that
// unregisters it: [AtEnd] bound to a test, or an ending's add.
type registerEnd func(stage Stage, name string, fn func(ctx context.Context) error) (unregister func())

// track registers r's teardown with the process's ending handler through
// register, so that SIGINT, SIGTERM or the approach of -timeout tear it
// down. Close unregisters it.
func (r *Running) track(register registerEnd) {
	unregister := register(StageSystems, "tearing down running system "+r.System.name(), r.Close)
	r.mu.Lock()
	r.unregister = unregister
	r.mu.Unlock()
}

// untrack unregisters r's teardown hook (Close does it).
func untrack(r *Running) {
	r.mu.Lock()
	unregister := r.unregister
	r.mu.Unlock()
	if unregister != nil {
		unregister()
	}
}
