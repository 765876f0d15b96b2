package scenarios

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Integration tests of the ContainerSpec fields, on images built by the
// tests themselves from testdata/probe (a static Go binary in FROM
// scratch), through ContainerSpec.Build. They need Docker and
// firedrill/toxiproxy (make images) and are skipped under -short.

// probeImage is the repository of the probe images the tests build.
const probeImage = "firedrill-test/probe"

// probeContext builds testdata/probe into a fresh build context and
// returns its directory; extra files are added to it.
func probeContext(t *testing.T, dockerfile string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", filepath.Join(dir, "probe"), "./testdata/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build the probe: %s", out)
	if dockerfile == "" {
		dockerfile = "FROM scratch\nCOPY probe /probe\nENTRYPOINT [\"/probe\"]\n"
	}
	extra["Dockerfile"] = dockerfile
	writeFiles(t, dir, extra)
	return dir
}

func probeSpec(name, dir string) ContainerSpec {
	return ContainerSpec{
		Name:  name,
		Image: probeImage + ":spec",
		Build: &Build{Context: dir},
		Ports: []string{"8080/tcp"},
		Ready: ReadyHTTP("8080/tcp", "/healthz"),
	}
}

// removeNewImages removes, when the test ends, the images of repo that
// were not there when it began (the test's builds), and every tag on them.
func removeNewImages(t *testing.T, repo string) {
	t.Helper()
	d := dockerClient(t)
	list := func() []string {
		res, err := d.ImageList(context.Background(), client.ImageListOptions{Filters: client.Filters{}.Add("reference", repo)})
		require.NoError(t, err)
		var ids []string
		for _, im := range res.Items {
			ids = append(ids, im.ID)
		}
		return ids
	}
	before := list()
	t.Cleanup(func() {
		for _, id := range list() {
			if !slices.Contains(before, id) {
				_, err := d.ImageRemove(context.Background(), id, client.ImageRemoveOptions{Force: true, PruneChildren: true})
				assert.NoError(t, err, "remove built image %s", short(id))
			}
		}
	})
}

func put(addr, path, body string) (string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

func endpoint(t *testing.T, c *Container, port string) string {
	t.Helper()
	addr, err := c.Endpoint(context.Background(), port)
	require.NoError(t, err)
	return addr
}

func inspectContainer(t *testing.T, d *client.Client, c *Container) container.InspectResponse {
	t.Helper()
	res, err := d.ContainerInspect(context.Background(), c.ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	return res.Container
}

// specSystem exercises every field at once: "who" runs under another
// entrypoint (with a link in it) and user, has extra hosts and a
// healthcheck that ReadyHealthy waits for; "vol" mounts a named volume and
// a read-only bind mount; "reader" shares the volume; "dep" depends on
// "who".
func specSystem(dir, hostDir string) System {
	vol := probeSpec("vol", dir)
	vol.Mounts = []Mount{
		{Type: MountVolume, Source: "data", Target: "/data"},
		{Type: MountBind, Source: hostDir, Target: "/host", ReadOnly: true},
	}
	reader := probeSpec("reader", dir)
	reader.Mounts = []Mount{{Type: MountVolume, Source: "data", Target: "/shared"}}
	who := probeSpec("who", dir)
	who.Entrypoint = []string{"/probe", "-addr", ":8081", "-tag", "${link:who->vol}"}
	who.Ports = []string{"8081/tcp"}
	who.User = "1234:5678"
	who.ExtraHosts = []string{"db.internal:10.1.2.3"}
	who.Healthcheck = &Healthcheck{Test: []string{"CMD", "/probe", "health", "http://127.0.0.1:8081/healthz"}, Interval: 100 * time.Millisecond, Retries: 3}
	who.Ready = ReadyHealthy()
	dep := probeSpec("dep", dir)
	dep.DependsOn = []string{"who"}
	return System{
		Name:       "spec",
		Containers: []ContainerSpec{vol, reader, who, dep},
		Links:      []LinkSpec{{From: "who", To: "vol", Port: "8080/tcp"}},
	}
}

func TestSpecFields(t *testing.T) {
	RequireDocker(t)
	removeNewImages(t, probeImage)
	dir := probeContext(t, "", map[string]string{})
	hostDir := t.TempDir()
	writeFiles(t, hostDir, map[string]string{"hello.txt": "hello from the host"})
	d := dockerClient(t)
	ctx := context.Background()

	r := Start(t, specSystem(dir, hostDir))
	t.Logf("ready in %v; builds %+v", r.ReadyIn, r.Builds)
	require.Len(t, r.Builds, 4)
	for _, b := range r.Builds[1:] {
		assert.True(t, b.Cached, "%s: one context, one build: the others find it cached", b.Container)
		assert.Equal(t, r.Builds[0].Image, b.Image)
	}
	assert.True(t, strings.HasPrefix(r.Builds[0].Image, probeImage+":"), r.Builds[0].Image)

	t.Run("entrypoint and user", func(t *testing.T) {
		who := r.MustContainer("who")
		body, err := get(endpoint(t, who, "8081/tcp"), "/whoami")
		require.NoError(t, err)
		assert.Contains(t, body, "uid=1234 gid=5678")
		assert.Contains(t, body, `"/probe" "-addr" ":8081" "-tag" "toxiproxy:20000"`, "the entrypoint, ${link:who->vol} expanded")
		cfg := inspectContainer(t, d, who).Config
		assert.Equal(t, "1234:5678", cfg.User)
		assert.Equal(t, []string{"/probe", "-addr", ":8081", "-tag", "toxiproxy:20000"}, cfg.Entrypoint)
	})
	t.Run("extra hosts", func(t *testing.T) {
		who := r.MustContainer("who")
		assert.Contains(t, inspectContainer(t, d, who).HostConfig.ExtraHosts, "db.internal:10.1.2.3")
		hosts, err := get(endpoint(t, who, "8081/tcp"), "/file?path=/etc/hosts")
		require.NoError(t, err)
		assert.Contains(t, hosts, "10.1.2.3\tdb.internal")
	})
	t.Run("healthcheck makes ReadyHealthy pass", func(t *testing.T) {
		st := inspectContainer(t, d, r.MustContainer("who")).State
		require.NotNil(t, st.Health)
		assert.Equal(t, container.Healthy, st.Health.Status)
	})
	t.Run("DependsOn orders the start", func(t *testing.T) {
		state := func(name string) State {
			st, err := r.MustContainer(name).State(ctx)
			require.NoError(t, err)
			return st
		}
		who, dep, reader := state("who"), state("dep"), state("reader")
		// who is healthy at the earliest one interval (100 ms) after it
		// started; dep starts only then. reader, which waits for nothing,
		// starts before who even starts (who waits for vol, its link).
		assert.GreaterOrEqual(t, dep.StartedAt.Sub(who.StartedAt), 100*time.Millisecond, "dep waited for who to be healthy")
		assert.True(t, reader.StartedAt.Before(who.StartedAt), "without DependsOn or links a container does not wait: reader %v, who %v", reader.StartedAt, who.StartedAt)
	})
	t.Run("bind mount read-only", func(t *testing.T) {
		addr := endpoint(t, r.MustContainer("vol"), "8080/tcp")
		body, err := get(addr, "/file?path=/host/hello.txt")
		require.NoError(t, err)
		assert.Equal(t, "hello from the host", body)
		body, err = put(addr, "/file?path=/host/new.txt", "x")
		require.Error(t, err)
		assert.Contains(t, body, "read-only file system")
		assert.NoFileExists(t, filepath.Join(hostDir, "new.txt"))
	})
	t.Run("named volume shared and kept across a restart", func(t *testing.T) {
		vol := r.MustContainer("vol")
		_, err := put(endpoint(t, vol, "8080/tcp"), "/file?path=/data/note", "kept")
		require.NoError(t, err)
		body, err := get(endpoint(t, r.MustContainer("reader"), "8080/tcp"), "/file?path=/shared/note")
		require.NoError(t, err)
		assert.Equal(t, "kept", body, "reader mounts the same volume")
		require.NoError(t, vol.Restart(ctx, time.Second))
		require.NoError(t, vol.WaitReady(ctx))
		body, err = get(endpoint(t, vol, "8080/tcp"), "/file?path=/data/note")
		require.NoError(t, err)
		assert.Equal(t, "kept", body)
		v, err := d.VolumeInspect(ctx, r.VolumeName("data"), client.VolumeInspectOptions{})
		require.NoError(t, err)
		assert.Equal(t, r.Instance, v.Volume.Labels[LabelInstance])
		assert.Equal(t, "data", v.Volume.Labels[LabelVolume])
		assert.Equal(t, "true", v.Volume.Labels[LabelFiredrill])
	})

	require.NoError(t, r.Close(ctx))
	_, err := d.VolumeInspect(ctx, r.VolumeName("data"), client.VolumeInspectOptions{})
	require.Error(t, err, "the volume is removed with the system")
	assert.True(t, isNotFound(err), "%v", err)
	assertNothingLeft(t, LabelInstance+"="+r.Instance)
}

func TestReadyHealthyFailures(t *testing.T) {
	RequireDocker(t)
	removeNewImages(t, probeImage)
	dir := probeContext(t, "", map[string]string{})
	ctx := context.Background()

	t.Run("unhealthy fails fast with the check's output", func(t *testing.T) {
		spec := probeSpec("api", dir)
		spec.Healthcheck = &Healthcheck{Test: []string{"CMD", "/probe", "fail", "database not reachable"}, Interval: 100 * time.Millisecond, Retries: 2}
		spec.Ready = ReadyHealthy()
		began := time.Now()
		r, err := StartContext(ctx, System{Name: "sick", Containers: []ContainerSpec{spec}}, WithTestName(t.Name()))
		took := time.Since(began)
		require.NotNil(t, r)
		t.Cleanup(func() { _ = r.Close(context.Background()) })
		require.ErrorIs(t, err, ErrUnhealthy)
		require.ErrorIs(t, err, ErrNotReady)
		assert.Contains(t, err.Error(), "api (")
		assert.Contains(t, err.Error(), "database not reachable")
		require.Len(t, r.Builds, 1)
		afterBuild := took - r.Builds[0].Took
		assert.Less(t, afterBuild, DefaultReadyTimeout/3, "fails at Docker's verdict, not at the ready timeout")
		t.Logf("failed %v after the image was ready: %v", afterBuild, err)
	})
	t.Run("no healthcheck in spec or image", func(t *testing.T) {
		spec := probeSpec("api", dir)
		spec.Ready = ReadyHealthy()
		r, err := StartContext(ctx, System{Name: "nohc", Containers: []ContainerSpec{spec}}, WithTestName(t.Name()))
		require.NotNil(t, r)
		t.Cleanup(func() { _ = r.Close(context.Background()) })
		require.ErrorIs(t, err, ErrInvalidSystem)
		assert.Contains(t, err.Error(), `container "api": Ready is ReadyHealthy but neither its spec nor its image`)
		assert.Empty(t, r.ids, "refused before any container was created")
	})
}

func TestBuildCachedByContent(t *testing.T) {
	RequireDocker(t)
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	dockerfile := "FROM scratch\nCOPY . /ctx/\nENTRYPOINT [\"/ctx/probe\"]\n"
	dir := probeContext(t, dockerfile, map[string]string{
		"nonce":         hex.EncodeToString(nonce),
		".dockerignore": "ignored/\n",
		"ignored/junk":  "1",
	})
	sys := System{Name: "built", Containers: []ContainerSpec{{
		Name: "app", Build: &Build{Context: dir},
		Ports: []string{"8080/tcp"}, Ready: ReadyHTTP("8080/tcp", "/healthz"),
	}}}
	removeNewImages(t, buildRepo(sys.Name, sys.Containers[0]))
	d := dockerClient(t)
	ctx := context.Background()
	start := func() BuiltImage {
		t.Helper()
		r, err := StartContext(ctx, sys, WithTestName(t.Name()))
		require.NotNil(t, r)
		t.Cleanup(func() { _ = r.Close(context.Background()) })
		require.NoError(t, err)
		require.Len(t, r.Builds, 1)
		addr := endpoint(t, r.MustContainer("app"), "8080/tcp")
		body, err := get(addr, "/file?path=/ctx/nonce")
		require.NoError(t, err)
		assert.Equal(t, hex.EncodeToString(nonce), body, "the image holds this context")
		_, err = get(addr, "/file?path=/ctx/ignored/junk")
		require.Error(t, err, ".dockerignore keeps ignored/ out of the context")
		require.NoError(t, r.Close(ctx))
		return r.Builds[0]
	}

	first := start()
	assert.False(t, first.Cached, "a new context is built")
	assert.Equal(t, "firedrill-build/built-app:"+first.Hash[:16], first.Image)
	img, err := d.ImageInspect(ctx, first.Image)
	require.NoError(t, err)
	assert.Equal(t, "true", img.Config.Labels[LabelImageBuild])
	assert.Equal(t, first.Hash, img.Config.Labels[LabelBuildHash])

	writeFiles(t, dir, map[string]string{"ignored/junk": "2"})
	second := start()
	assert.True(t, second.Cached, "an ignored change builds nothing")
	assert.Equal(t, first.Image, second.Image)
	t.Logf("built in %v, cached start's image step %v", first.Took, second.Took)

	nonce[0]++
	writeFiles(t, dir, map[string]string{"nonce": hex.EncodeToString(nonce)})
	third := start()
	assert.False(t, third.Cached, "a changed file is built again")
	assert.NotEqual(t, first.Image, third.Image)
}

func TestBuildFailureNamesContainerContextAndOutput(t *testing.T) {
	RequireDocker(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY missing.txt /x\n"})
	sys := System{Name: "broken", Containers: []ContainerSpec{{Name: "api", Build: &Build{Context: dir}}}}
	removeNewImages(t, buildRepo(sys.Name, sys.Containers[0]))
	r, err := StartContext(context.Background(), sys, WithTestName(t.Name()))
	require.NotNil(t, r)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	require.Error(t, err)
	t.Logf("%v", err)
	for _, want := range []string{`build image for container "api" from ` + dir, "the build failed", "missing.txt", "lines of the builder's output", "COPY missing.txt /x"} {
		assert.Contains(t, err.Error(), want)
	}
}

// A pull that fails (no registry answers at 127.0.0.1:1; nothing leaves the
// machine) names the image, its users, the registry's answer and the fix;
// with pulling off nothing is asked.
func TestPullFailureAndPullOff(t *testing.T) {
	RequireDocker(t)
	const img = "127.0.0.1:1/nothing/here:v1"
	sys := System{Name: "pull", Containers: []ContainerSpec{{Name: "app", Image: img}, {Name: "worker", Image: img}}}
	for _, tt := range []struct {
		name string
		opts []Option
		env  string
		want []string
		not  string
	}{
		{"pull fails", nil, "", []string{"the pull failed", "127.0.0.1:1", "connection refused"}, "pulling is off"},
		{"WithPull(false)", []Option{WithPull(false)}, "", []string{"pulling is off"}, "connection refused"},
		{"FIREDRILL_PULL=never", nil, "never", []string{"pulling is off"}, "connection refused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvPull, tt.env)
			r, err := StartContext(context.Background(), sys, append(tt.opts, WithTestName(t.Name()))...)
			require.NotNil(t, r)
			t.Cleanup(func() { _ = r.Close(context.Background()) })
			require.ErrorIs(t, err, ErrImageMissing)
			t.Logf("%v", err)
			want := append([]string{img + " (used by app, worker) is not present locally", "fix: build it (ContainerSpec.Build"}, tt.want...)
			for _, w := range want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), tt.not)
			assert.NotContains(t, err.Error(), "make images")
		})
	}
}

// A system that was never closed (its process killed) leaves its named
// volume; the wipe of its run removes it with the containers.
func TestWipeRemovesVolumes(t *testing.T) {
	RequireDocker(t)
	ctx := context.Background()
	runID := "spec-wipe-" + newID()
	app := stubSpec("app")
	app.Mounts = []Mount{{Type: MountVolume, Source: "data", Target: "/data"}}
	r, err := StartContext(ctx, System{Name: "wipevol", Containers: []ContainerSpec{app}}, WithRunID(runID), WithTestName(t.Name()))
	require.NotNil(t, r)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	require.NoError(t, err)

	removed, err := WipeRun(ctx, runID)
	require.NoError(t, err)
	assert.Equal(t, []string{r.VolumeName("data")}, removed.Volumes)
	assert.Len(t, removed.Containers, 2, "app and toxiproxy")
	_, err = dockerClient(t).VolumeInspect(ctx, r.VolumeName("data"), client.VolumeInspectOptions{})
	assert.True(t, isNotFound(err), "volume gone: %v", err)
	assertNothingLeft(t, LabelRun+"="+runID)
}
