package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/moby/moby/client"
)

// Removed lists what [Wipe] removed (ids shortened to 12 characters, with
// names where Docker has them).
type Removed struct {
	Containers []string
	Networks   []string
	Volumes    []string
}

// Wipe removes every container, then every network and named volume,
// labelled firedrill=true: what a killed test process left behind. Nothing
// unlabelled is touched (built images, a cache, are kept).
func Wipe(ctx context.Context) (Removed, error) {
	d, err := NewDockerClient(ctx)
	if err != nil {
		return Removed{}, err
	}
	defer d.Close()
	return wipe(ctx, d, LabelFiredrill+"=true")
}

// WipeRun removes the containers, networks and volumes of one run id (see [RunID]).
func WipeRun(ctx context.Context, runID string) (Removed, error) {
	if runID == "" {
		return Removed{}, errors.New("wipe run: empty run id")
	}
	d, err := NewDockerClient(ctx)
	if err != nil {
		return Removed{}, err
	}
	defer d.Close()
	return wipe(ctx, d, LabelFiredrill+"=true", LabelRun+"="+runID)
}

// WipeWith removes, through d, the containers and then the networks and
// volumes that carry every one of the given labels ("key=value"); at least
// one label is required.
func WipeWith(ctx context.Context, d client.APIClient, labels ...string) (Removed, error) {
	return wipe(ctx, d, labels...)
}

func wipe(ctx context.Context, d reaperAPI, labels ...string) (Removed, error) {
	var out Removed
	if len(labels) == 0 {
		return out, errors.New("wipe: no label filter: refusing to remove unlabelled resources")
	}
	filter := client.Filters{}.Add("label", labels...)
	cs, err := d.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return out, fmt.Errorf("wipe: list containers: %w", err)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, c := range cs.Items {
		if !hasLabels(c.Labels, labels) {
			continue // the daemon filtered; this guards against a filter it ignored
		}
		wg.Go(func() {
			_, err := d.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil || isNotFound(err):
				name := short(c.ID)
				if len(c.Names) > 0 {
					name += " " + c.Names[0]
				}
				out.Containers = append(out.Containers, name)
			default:
				errs = append(errs, fmt.Errorf("wipe: remove container %s: %w", short(c.ID), err))
			}
		})
	}
	wg.Wait()
	ns, err := d.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return out, errors.Join(append(errs, fmt.Errorf("wipe: list networks: %w", err))...)
	}
	for _, n := range ns.Items {
		if !hasLabels(n.Labels, labels) {
			continue
		}
		if _, err := d.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("wipe: remove network %s: %w", n.Name, err))
			continue
		}
		out.Networks = append(out.Networks, short(n.ID)+" "+n.Name)
	}
	vols, err := removeVolumes(ctx, d, filter, labels)
	out.Volumes = vols
	if err != nil {
		errs = append(errs, fmt.Errorf("wipe: %w", err))
	}
	return out, errors.Join(errs...)
}

func hasLabels(have map[string]string, want []string) bool {
	for _, kv := range want {
		k, v, _ := cutLabel(kv)
		if have[k] != v {
			return false
		}
	}
	return true
}

func cutLabel(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}
