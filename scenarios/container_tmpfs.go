package scenarios

import (
	"context"
	"fmt"
	"slices"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// TmpfsMounts lists the container's tmpfs mounts (container paths, sorted),
// as the daemon has them: those of HostConfig.Tmpfs and tmpfs mounts.
// Docker empties them whenever the container starts, which is why the
// faults that start a container again ask (faults.TmpfsReader).
func (c *Container) TmpfsMounts(ctx context.Context) ([]string, error) {
	res, err := c.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", c.Name, err)
	}
	var out []string
	if hc := res.Container.HostConfig; hc != nil {
		for path := range hc.Tmpfs {
			out = append(out, path)
		}
		for _, m := range hc.Mounts {
			if m.Type == mount.TypeTmpfs {
				out = append(out, m.Target)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
