package scenarios

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Getting the images ready, before anything is created: build what has a
// Build (cached by content), then make sure every other image is present,
// pulling what is missing unless pulling is off or the image is one of the
// project's own (built by `make images`, never in a registry).

// checkImages builds, inspects and pulls the system's images and returns
// the toxiproxy command line.
func (r *Running) checkImages(ctx context.Context, toxiImage string) ([]string, error) {
	var errs []error
	for _, c := range r.System.Containers {
		if c.Build == nil {
			continue
		}
		b, err := r.buildImage(ctx, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.images[c.Name] = b.Image
		r.Builds = append(r.Builds, b)
		how := "built in " + b.Took.Round(1e6).String()
		if b.Cached {
			how = "cached (context unchanged)"
		}
		r.cfg.Logf("image %s for %s: %s", b.Image, c.Name, how)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	users := map[string][]string{toxiImage: {ToxiproxyAlias}}
	for _, c := range r.System.Containers {
		img := r.imageOf(c)
		users[img] = append(users[img], c.Name)
	}
	configs, err := r.presentImages(ctx, users)
	if err != nil {
		return nil, err
	}
	if err := r.checkImageHealthchecks(configs); err != nil {
		return nil, err
	}
	toxiCmd := []string{"-host", "0.0.0.0", "-port", strings.Split(ToxiproxyAPIPort, "/")[0]}
	if res := configs[toxiImage]; res != nil && res.Config != nil && len(res.Config.Entrypoint) == 0 && len(res.Config.Cmd) > 0 {
		cfg := res.Config
		toxiCmd = append([]string{cfg.Cmd[0]}, toxiCmd...)
	}
	return toxiCmd, nil
}

// imageOf is the image c runs: the one built for it, else its Image.
func (r *Running) imageOf(c ContainerSpec) string {
	if img, ok := r.images[c.Name]; ok {
		return img
	}
	return c.Image
}

// presentImages makes sure every image of users (image -> the containers
// that use it) is present, pulling what is missing, and returns their
// configurations.
func (r *Running) presentImages(ctx context.Context, users map[string][]string) (map[string]*client.ImageInspectResult, error) {
	var (
		mu      sync.Mutex
		errs    []error
		configs = map[string]*client.ImageInspectResult{}
		wg      sync.WaitGroup
	)
	for img, names := range users {
		wg.Go(func() {
			res, err := r.docker.ImageInspect(ctx, img)
			if err != nil && isNotFound(err) {
				res, err = r.pullMissing(ctx, img, names)
			} else if err != nil {
				err = fmt.Errorf("inspect image %s: %w", img, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			configs[img] = &res
		})
	}
	wg.Wait()
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return configs, errors.Join(errs...)
}

// checkImageHealthchecks fails for a container that waits for
// [ReadyHealthy] with no healthcheck in its spec or its image.
func (r *Running) checkImageHealthchecks(configs map[string]*client.ImageInspectResult) error {
	var p problems
	for _, c := range r.System.Containers {
		if !needsHealthcheck(c.Ready) || c.Healthcheck != nil {
			continue
		}
		img := r.imageOf(c)
		if res := configs[img]; res != nil && res.Config != nil {
			if h := res.Config.Healthcheck; h != nil && len(h.Test) > 0 && h.Test[0] != "NONE" {
				continue
			}
		}
		p.add("container %q: Ready is ReadyHealthy but neither its spec nor its image %s has a healthcheck: declare ContainerSpec.Healthcheck (or a HEALTHCHECK in the Dockerfile), or choose another readiness", c.Name, img)
	}
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{System: r.System.name(), Problems: p}
}

// pullMissing pulls img, missing locally, when that is allowed, and
// inspects it.
func (r *Running) pullMissing(ctx context.Context, img string, users []string) (client.ImageInspectResult, error) {
	users = slices.Sorted(slices.Values(users))
	switch {
	case isProjectImage(img):
		return client.ImageInspectResult{}, missingImage(img, users, "it is one of firedrill's own images, built here and never pulled")
	case !r.cfg.Pull:
		return client.ImageInspectResult{}, missingImage(img, users, fmt.Sprintf("pulling is off (WithPull(false) or %s=never)", EnvPull))
	}
	r.cfg.Logf("pulling %s (used by %s)", img, strings.Join(users, ", "))
	if err := r.pull(ctx, img); err != nil {
		return client.ImageInspectResult{}, missingImage(img, users, fmt.Sprintf("the pull failed: %v", err))
	}
	res, err := r.docker.ImageInspect(ctx, img)
	if err != nil {
		return res, fmt.Errorf("inspect image %s after its pull: %w", img, err)
	}
	return res, nil
}

// pull pulls img through the daemon with the user's Docker credentials
// for its registry, if there are any.
func (r *Running) pull(ctx context.Context, img string) error {
	var opts client.ImagePullOptions
	if _, auth, err := testcontainers.DockerImageAuth(ctx, img); err == nil {
		if enc, err := authconfig.Encode(auth); err == nil {
			opts.RegistryAuth = enc
		}
	}
	resp, err := r.docker.ImagePull(ctx, img, opts)
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(ctx)
}

// isProjectImage reports whether img is the default reference of one of
// the project's images (firedrill/NAME:local).
func isProjectImage(img string) bool {
	for _, name := range Images() {
		if img == "firedrill/"+name+":local" {
			return true
		}
	}
	return false
}

// missingImage is the error for an image that is not present and was not
// pulled (why), with the fix: `make images` or the override for the
// project's images, a build or a pull for the user's.
func missingImage(img string, users []string, why string) error {
	hint := "build it (ContainerSpec.Build, or build: in a Compose file) or get it into the local store (docker pull / docker load)"
	if v := imageEnvVar(img); v != "" || isProjectImage(img) {
		hint = "build it with `make images`"
		if v != "" {
			hint += fmt.Sprintf(", or set %s to an image you have", v)
		}
	}
	return fmt.Errorf("%w: %s (used by %s) is not present locally and %s; fix: %s", ErrImageMissing, img, strings.Join(users, ", "), why, hint)
}
