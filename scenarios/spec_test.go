package scenarios

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
)

// Unit tests of the ContainerSpec additions that need no Docker: the named
// DOCKER_HOST check, the pull policy, build contexts and their hash.

// A DOCKER_HOST that does not answer stops Start before anything is
// created, naming the host and the fix (no fallback to the local daemon).
func TestDockerHostThatDoesNotAnswer(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
	t.Setenv("HOME", t.TempDir()) // no ~/.testcontainers.properties
	began := time.Now()
	r, err := StartContext(context.Background(), validSystem(), WithTestName(t.Name()))
	require.NotNil(t, r)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	require.ErrorIs(t, err, ErrDockerUnreachable)
	for _, want := range []string{"DOCKER_HOST names the daemon tcp://127.0.0.1:1", "does not answer", "Cannot connect to the Docker daemon at tcp://127.0.0.1:1", "start that daemon, or unset DOCKER_HOST", "never falls back"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Less(t, time.Since(began), 2*dockerHostPing, "fails fast")

	_, err = NewDockerClient(context.Background())
	require.ErrorIs(t, err, ErrDockerUnreachable, "the wipe and RequireDocker refuse it too")
	assert.Contains(t, err.Error(), "tcp://127.0.0.1:1")
}

func TestDockerHostFromTestcontainersProperties(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_HOST", "")
	props := "# firedrill test\nryuk.disabled=true\ndocker.host = tcp://127.0.0.1:1\n"
	require.NoError(t, os.WriteFile(filepath.Join(home, ".testcontainers.properties"), []byte(props), 0o600))
	err := CheckDockerHost(context.Background())
	require.ErrorIs(t, err, ErrDockerUnreachable)
	assert.Contains(t, err.Error(), "docker.host in "+filepath.Join(home, ".testcontainers.properties")+" names the daemon tcp://127.0.0.1:1")
	assert.Contains(t, err.Error(), "or remove it from docker.host in")

	t.Setenv("HOME", t.TempDir())
	assert.NoError(t, CheckDockerHost(context.Background()), "nothing named: nothing to check")
}

func TestPullSetting(t *testing.T) {
	t.Setenv(EnvPull, "")
	c, err := newConfig()
	require.NoError(t, err)
	assert.True(t, c.Pull, "pulls what is missing by default")
	c, err = newConfig(WithPull(false))
	require.NoError(t, err)
	assert.False(t, c.Pull)

	t.Setenv(EnvPull, "never")
	c, err = newConfig(WithPull(true))
	require.NoError(t, err)
	assert.False(t, c.Pull, "FIREDRILL_PULL=never wins over the options")

	t.Setenv(EnvPull, "sometimes")
	_, err = newConfig()
	require.ErrorContains(t, err, `FIREDRILL_PULL="sometimes": want "never"`)
}

// runningWith is a Running on a mock daemon, for the image stage.
func runningWith(t *testing.T, sys System, opts ...Option) (*Running, *mockDockerAPI) {
	t.Helper()
	r, err := newRunning(sys, opts...)
	require.NoError(t, err)
	d := newMockDockerAPI(t)
	r.docker = d
	return r, d
}

func TestPullPolicy(t *testing.T) {
	t.Setenv(EnvPull, "")
	t.Setenv(ImageEnvVar(ImageStub), "")
	ctx := context.Background()
	missing := cerrdefs.ErrNotFound.WithMessage("No such image")
	user := "127.0.0.1:1/nothing/here:v1"

	t.Run("a user's image is pulled, and the failure names image, users, answer and fix", func(t *testing.T) {
		r, d := runningWith(t, System{Containers: []ContainerSpec{{Name: "app", Image: user}, {Name: "worker", Image: user}}})
		d.EXPECT().ImageInspect(ctx, user).Return(client.ImageInspectResult{}, missing).Once()
		refused := errors.New(`Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`)
		d.EXPECT().ImagePull(ctx, user, mock.Anything).Return(nil, refused).Once()
		_, err := r.presentImages(ctx, map[string][]string{user: {"worker", "app"}})
		require.ErrorIs(t, err, ErrImageMissing)
		for _, want := range []string{user + " (used by app, worker)", "the pull failed", "connection refused", "ContainerSpec.Build", "docker pull / docker load"} {
			assert.Contains(t, err.Error(), want)
		}
		assert.NotContains(t, err.Error(), "make images", "a user's image is not the project's")
	})
	t.Run("pulling off: nothing is asked of a registry", func(t *testing.T) {
		r, d := runningWith(t, System{Containers: []ContainerSpec{{Name: "app", Image: user}}}, WithPull(false))
		d.EXPECT().ImageInspect(ctx, user).Return(client.ImageInspectResult{}, missing).Once()
		_, err := r.presentImages(ctx, map[string][]string{user: {"app"}})
		require.ErrorIs(t, err, ErrImageMissing)
		assert.Contains(t, err.Error(), "pulling is off (WithPull(false) or FIREDRILL_PULL=never)")
		// The mock fails the test on the ImagePull it was not told to expect.
	})
	t.Run("a project image is never pulled", func(t *testing.T) {
		img := Image(ImageStub)
		r, d := runningWith(t, System{Containers: []ContainerSpec{{Name: "app", Image: img}}})
		d.EXPECT().ImageInspect(ctx, img).Return(client.ImageInspectResult{}, missing).Once()
		_, err := r.presentImages(ctx, map[string][]string{img: {"app"}})
		require.ErrorIs(t, err, ErrImageMissing)
		assert.Contains(t, err.Error(), "built here and never pulled")
		assert.Contains(t, err.Error(), "make images")
	})
	t.Run("an override of a project image is pulled, and its fix names the variable", func(t *testing.T) {
		t.Setenv(ImageEnvVar(ImageStub), "registry.invalid/stub:1")
		r, d := runningWith(t, System{Containers: []ContainerSpec{{Name: "app", Image: Image(ImageStub)}}})
		d.EXPECT().ImageInspect(ctx, "registry.invalid/stub:1").Return(client.ImageInspectResult{}, missing).Once()
		d.EXPECT().ImagePull(ctx, "registry.invalid/stub:1", mock.Anything).Return(nil, errors.New("no such host")).Once()
		_, err := r.presentImages(ctx, map[string][]string{"registry.invalid/stub:1": {"app"}})
		require.ErrorIs(t, err, ErrImageMissing)
		assert.Contains(t, err.Error(), "make images")
		assert.Contains(t, err.Error(), "set FIREDRILL_STUB_IMAGE to an image you have")
	})
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func TestBuildContextHonoursDockerignore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile":        "FROM scratch\nCOPY . /\n",
		".dockerignore":     "Dockerfile\n.dockerignore\nlogs/\n*.tmp\n!keep.tmp\n",
		"app/main.go":       "package main",
		"logs/today.log":    "noise",
		"scratch.tmp":       "noise",
		"keep.tmp":          "kept by the exception",
		"app/deep/data.txt": "data",
	})
	files, err := contextFiles(dir, "Dockerfile")
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.rel)
	}
	assert.Equal(t, []string{".dockerignore", "Dockerfile", "app", "app/deep", "app/deep/data.txt", "app/main.go", "keep.tmp"}, names,
		"ignored files are left out; the Dockerfile and .dockerignore always go")
}

func TestContextHashChangesWithWhatIsBuilt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\n", ".dockerignore": "junk/\n", "a.txt": "a", "junk/x": "1"})
	hash := func(b Build) string {
		t.Helper()
		files, err := contextFiles(dir, b.dockerfilePath())
		require.NoError(t, err)
		h, err := contextHash(files, b)
		require.NoError(t, err)
		return h
	}
	base := hash(Build{Context: dir})
	assert.Equal(t, base, hash(Build{Context: dir, Dockerfile: "./Dockerfile"}), "the same Dockerfile, spelled otherwise")
	writeFiles(t, dir, map[string]string{"junk/x": "2", "junk/y": "new"})
	assert.Equal(t, base, hash(Build{Context: dir}), "an ignored file does not count")
	assert.NotEqual(t, base, hash(Build{Context: dir, Args: map[string]string{"V": "1"}}), "build args count")
	assert.NotEqual(t, base, hash(Build{Context: dir, Target: "prod"}), "the target counts")
	writeFiles(t, dir, map[string]string{"a.txt": "b"})
	changed := hash(Build{Context: dir})
	assert.NotEqual(t, base, changed, "a file's content counts")
	require.NoError(t, os.Chmod(filepath.Join(dir, "a.txt"), 0o755))
	assert.NotEqual(t, changed, hash(Build{Context: dir}), "a file's mode counts")
}

func TestBuildRepo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ image, want string }{
		{"", "firedrill-build/shop-api_v2"},
		{"shop/api:dev", "shop/api"},
		{"localhost:5000/shop/api:dev", "localhost:5000/shop/api"},
		{"localhost:5000/shop/api", "localhost:5000/shop/api"},
		{"shop/api@sha256:abc", "shop/api"},
	} {
		assert.Equal(t, tt.want, buildRepo("Shop", ContainerSpec{Name: "api_v2", Image: tt.image}), tt.image)
	}
}

func TestBuildWithoutDockerfileNamesContainerAndContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r, _ := runningWith(t, System{Containers: []ContainerSpec{{Name: "api", Build: &Build{Context: dir}}}})
	_, err := r.buildImage(context.Background(), r.System.Containers[0])
	require.Error(t, err)
	assert.Contains(t, err.Error(), `build image for container "api" from `+dir)
	assert.Contains(t, err.Error(), "no Dockerfile at "+filepath.Join(dir, "Dockerfile"))
}

// ReadyHealthy fails at once on Docker's "unhealthy" with the last
// check's output, and waits while the health is "starting".
func TestReadyHealthyVerdicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newMockDockerAPI(t)
	c := &Container{Name: "api", ID: "c1", docker: d}
	inspect := func(h *containerHealth) {
		d.EXPECT().ContainerInspect(ctx, "c1", client.ContainerInspectOptions{}).Return(inspectWithHealth(h), nil).Once()
	}
	inspect(&containerHealth{Status: "starting"})
	require.ErrorContains(t, ReadyHealthy().Check(ctx, c), "health is starting")
	inspect(&containerHealth{Status: "healthy"})
	require.NoError(t, ReadyHealthy().Check(ctx, c))
	inspect(&containerHealth{Status: "unhealthy", FailingStreak: 3, Output: "db: connection refused", ExitCode: 1})
	err := ReadyHealthy().Check(ctx, c)
	require.ErrorIs(t, err, ErrUnhealthy)
	assert.Contains(t, err.Error(), "unhealthy after 3 failed checks; last check exited 1 with output:\n    db: connection refused")
	inspect(nil)
	require.ErrorContains(t, ReadyHealthy().Check(ctx, c), "api has no healthcheck")
}

type containerHealth struct {
	Status        string
	FailingStreak int
	Output        string
	ExitCode      int
}

func inspectWithHealth(h *containerHealth) client.ContainerInspectResult {
	st := &container.State{Status: container.StateRunning, Running: true}
	if h != nil {
		st.Health = &container.Health{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
		if h.Output != "" {
			st.Health.Log = []*container.HealthcheckResult{{ExitCode: h.ExitCode, Output: h.Output}}
		}
	}
	return client.ContainerInspectResult{Container: container.InspectResponse{State: st}}
}
