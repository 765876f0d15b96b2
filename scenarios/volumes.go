package scenarios

import (
	"context"
	"fmt"
	"slices"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// Named volumes (Mount{Type: MountVolume}) belong to one running system:
// created before its containers, shared by the containers that name the
// same Source, labelled like the system's other resources, and removed
// with it (teardown, [Wipe]).

// VolumeName is the Docker name of the system's volume source:
// fd-<instance[:6]>-<system>-<source>.
func (r *Running) VolumeName(source string) string {
	return fmt.Sprintf("fd-%s-%s-%s", r.Instance[:6], r.System.name(), source)
}

// volumeSources lists the named volumes of the system, in first-use order.
func (s System) volumeSources() []string {
	var out []string
	for _, c := range s.Containers {
		for _, m := range c.Mounts {
			if m.Type == MountVolume && !slices.Contains(out, m.Source) {
				out = append(out, m.Source)
			}
		}
	}
	return out
}

// createVolumes creates the system's named volumes.
func (r *Running) createVolumes(ctx context.Context) error {
	for _, src := range r.System.volumeSources() {
		labels := r.labels("")
		labels[LabelVolume] = src
		name := r.VolumeName(src)
		_, err := r.docker.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: labels})
		if err != nil {
			return fmt.Errorf("create volume %s: %w", name, err)
		}
		if r.isClosed() { // Close ran meanwhile and may not have seen it
			_, _ = r.docker.VolumeRemove(context.WithoutCancel(ctx), name, client.VolumeRemoveOptions{Force: true})
			return ErrClosed
		}
	}
	return nil
}

// mounts returns the Docker mounts of spec: bind mounts as declared, named
// volumes under their system-wide names.
func (r *Running) mounts(spec ContainerSpec) []mount.Mount {
	out := make([]mount.Mount, 0, len(spec.Mounts))
	for _, m := range spec.Mounts {
		dm := mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if m.Type == MountVolume {
			dm.Type, dm.Source = mount.TypeVolume, r.VolumeName(m.Source)
		}
		out = append(out, dm)
	}
	return out
}
