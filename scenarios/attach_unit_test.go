package scenarios

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Unit tests of Attach: no Docker, no toxiproxy.

func TestEnvironmentValidateRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  Environment
		want []string
	}{
		{"no docker host", Environment{Containers: []string{"staging-api"}},
			[]string{"Environment.DockerHost is empty: name the Docker daemon", "never guesses it from DOCKER_HOST"}},
		{"bad docker host", Environment{DockerHost: "docker.example:2375", Containers: []string{"api"}},
			[]string{`Environment.DockerHost "docker.example:2375"`, "unix:///var/run/docker.sock"}},
		{"endpoint on another host", Environment{Endpoints: map[string]string{"api": "10.0.0.5:8080"}},
			[]string{`Environment.Endpoints["api"]: "10.0.0.5:8080": address is not on loopback`}},
		{"endpoint by a public name", Environment{Endpoints: map[string]string{"api": "staging.example.com:443"}},
			[]string{"address is not on loopback: load and faults reach only 127.0.0.1, ::1 or localhost"}},
		{"endpoint with a scheme", Environment{Endpoints: map[string]string{"api": "http://127.0.0.1:8080"}},
			[]string{"write host:port, e.g. 127.0.0.1:8080, without a scheme"}},
		{"endpoint without a port", Environment{Endpoints: map[string]string{"api": "127.0.0.1"}},
			[]string{`"127.0.0.1" is not host:port`}},
		{"toxiproxy elsewhere", Environment{Toxiproxy: "http://10.1.2.3:8474", Proxies: []string{"api"}},
			[]string{`Environment.Toxiproxy "http://10.1.2.3:8474": address is not on loopback`}},
		{"proxies without toxiproxy", Environment{Proxies: []string{"api"}},
			[]string{"Environment.Toxiproxy is empty"}},
		{"network for an unlisted container", Environment{DockerHost: "unix:///var/run/docker.sock", Containers: []string{"api"}, Networks: map[string]string{"db": "backend"}},
			[]string{`Environment.Networks names "db", which is not in Environment.Containers`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.env.Validate()
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			a, aerr := Attach(t.Context(), tc.env)
			assert.Nil(t, a, "nothing is contacted for an invalid declaration")
			assert.Equal(t, err.Error(), aerr.Error())
		})
	}
}

func TestEnvironmentValidateAcceptsLoopback(t *testing.T) {
	t.Parallel()
	env := Environment{
		DockerHost: "unix:///var/run/docker.sock",
		Containers: []string{"api"},
		Networks:   map[string]string{"api": "backend"},
		Toxiproxy:  "127.0.0.1:8474",
		Proxies:    []string{"api"},
		Endpoints:  map[string]string{"a": "127.0.0.1:8080", "b": "[::1]:8080", "c": "localhost:1"},
	}
	require.NoError(t, env.Validate())
}

// An unreachable Docker host is an error naming it, not a fallback to
// another daemon: not to DOCKER_HOST, not to the default socket.
func TestAttachUnreachableDockerHost(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
	a, err := Attach(t.Context(), Environment{DockerHost: "tcp://127.0.0.1:1", Containers: []string{"staging-api"}})
	require.Error(t, err)
	t.Log(err)
	require.ErrorIs(t, err, ErrDockerUnreachable)
	assert.Contains(t, err.Error(), "the Docker host tcp://127.0.0.1:1 (Environment.DockerHost) does not answer")
	assert.NoError(t, a.Close(context.Background()), "a partly attached environment closes")
}

func TestAttachUnreachableToxiproxy(t *testing.T) {
	t.Parallel()
	_, err := Attach(t.Context(), Environment{Toxiproxy: "http://127.0.0.1:1", Proxies: []string{"api"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "attach: toxiproxy at http://127.0.0.1:1 (Environment.Toxiproxy) does not answer")
}

// The handles' Docker API refuses every container that was not resolved
// when attaching, before anything is sent: the mock has no expectations,
// so any call reaching it would fail the test.
func TestScopedAPIRefusesUnlistedContainers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	scope := newScopedAPI(newMockDockerAPI(t), "unix:///var/run/docker.sock")
	scope.allow("aaaa", "staging-api", "net1")
	c := &Container{Name: "staging-api", ID: "bbbb", docker: scope, networkID: "net1"}
	for name, call := range map[string]func() error{
		"kill":       func() error { return c.Kill(ctx, "") },
		"stop":       func() error { return c.Stop(ctx, time.Second) },
		"start":      func() error { return c.Start(ctx) },
		"restart":    func() error { return c.Restart(ctx, time.Second) },
		"pause":      func() error { return c.Pause(ctx) },
		"unpause":    func() error { return c.Unpause(ctx) },
		"update":     func() error { return c.Update(ctx, Resources{Memory: 64 << 20}) },
		"disconnect": func() error { return c.Disconnect(ctx) },
		"connect":    func() error { return c.Connect(ctx) },
		"state":      func() error { _, err := c.State(ctx); return err },
		"logs":       func() error { _, err := c.Logs(ctx, 1); return err },
		"exec":       func() error { _, _, err := c.Exec(ctx, []string{"true"}); return err },
		"events":     func() error { _, err := c.Events(ctx, time.Now().Add(-time.Second), time.Now()); return err },
	} {
		err := call()
		require.ErrorIs(t, err, ErrNotListed, name)
		assert.Contains(t, err.Error(), `container "bbbb" on unix:///var/run/docker.sock`, name)
	}
	// A listed container on another network than the one chosen.
	c.ID, c.networkID = "aaaa", "net2"
	require.ErrorIs(t, c.Disconnect(ctx), ErrNotListed)
	_, err := scope.ExecInspect(ctx, "exec-of-someone-else", client.ExecInspectOptions{})
	require.ErrorIs(t, err, ErrNotListed)
	_, err = scope.NetworkConnect(ctx, "net1", client.NetworkConnectOptions{Container: "bbbb"})
	require.ErrorIs(t, err, ErrNotListed)
	ev := scope.Events(ctx, client.EventsListOptions{})
	require.ErrorIs(t, <-ev.Err, ErrNotListed, "events of every container are refused")
}

func TestScopedAPIPassesListedContainers(t *testing.T) {
	t.Parallel()
	m := newMockDockerAPI(t)
	m.EXPECT().ContainerKill(context.Background(), "aaaa", client.ContainerKillOptions{Signal: "SIGTERM"}).Return(client.ContainerKillResult{}, nil).Once()
	scope := newScopedAPI(m, "unix:///var/run/docker.sock")
	scope.allow("aaaa", "staging-api", "")
	c := &Container{Name: "staging-api", ID: "aaaa", docker: scope}
	require.NoError(t, c.Kill(context.Background(), "SIGTERM"))
}

func TestChooseNetwork(t *testing.T) {
	t.Parallel()
	ep := func(id string, aliases ...string) *network.EndpointSettings {
		return &network.EndpointSettings{NetworkID: id, Aliases: aliases}
	}
	inspect := func(nets map[string]*network.EndpointSettings) container.InspectResponse {
		return container.InspectResponse{NetworkSettings: &container.NetworkSettings{Networks: nets}}
	}
	one := inspect(map[string]*network.EndpointSettings{"backend": ep("n1", "api", "web")})
	two := inspect(map[string]*network.EndpointSettings{"backend": ep("n1"), "frontend": ep("n2")})

	nw, err := chooseNetwork(one, "api", "")
	require.NoError(t, err)
	require.NoError(t, nw.err)
	assert.Equal(t, "n1", nw.id)
	assert.Equal(t, []string{"api", "web"}, nw.settings.Aliases, "Connect gets the aliases back")

	nw, err = chooseNetwork(two, "api", "frontend")
	require.NoError(t, err)
	assert.Equal(t, "n2", nw.id)

	nw, err = chooseNetwork(two, "api", "")
	require.NoError(t, err, "attaching works; partitioning does not")
	require.EqualError(t, nw.err, "container api is on networks backend, frontend: name the one Partition cuts in Environment.Networks")
	c := &Container{Name: "api", netErr: nw.err}
	require.EqualError(t, c.Disconnect(context.Background()), "disconnect api: "+nw.err.Error())

	_, err = chooseNetwork(one, "api", "frontend")
	require.EqualError(t, err, `Environment.Networks names "frontend" for container api, which is not on it (its networks: backend)`)

	nw, err = chooseNetwork(inspect(map[string]*network.EndpointSettings{"host": ep("h")}), "api", "")
	require.NoError(t, err)
	require.ErrorContains(t, nw.err, "uses network mode host")
}

func TestAttachedLookupsRefuseWhatIsNotListed(t *testing.T) {
	t.Parallel()
	api := &Container{Name: "staging-api", ID: "0123456789abcdef0123"}
	a := &Attached{
		Env: Environment{Containers: []string{"staging-api"}, Proxies: []string{"api"},
			Endpoints: map[string]string{"api": "127.0.0.1:8080"}},
		containers: []*Container{api},
		byKey:      map[string]*Container{"staging-api": api, api.ID: api},
		linkByName: map[string]*Link{"api": {Name: "api"}},
	}
	c, err := a.Container("0123456789ab")
	require.NoError(t, err, "a short ID of a listed container")
	assert.Same(t, api, c)

	_, err = a.Container("staging-db")
	require.ErrorIs(t, err, ErrNotListed)
	require.EqualError(t, err, `container "staging-db": not listed in the attached environment: firedrill acts only on the containers listed in Environment.Containers (staging-api); to drill it, add "staging-db" there`)
	assert.PanicsWithValue(t, "scenarios: "+err.Error(), func() { a.MustContainer("staging-db") })

	_, err = a.Link("db")
	require.EqualError(t, err, `link "db": not listed in the attached environment: firedrill acts only on the proxies listed in Environment.Proxies (api); to drill it, add "db" there`)
	_, err = a.Endpoint("db")
	require.EqualError(t, err, `endpoint "db": not listed in the attached environment: the endpoints are api (Environment.Endpoints)`)
	assert.Equal(t, "127.0.0.1:8080", a.MustEndpoint("api"))
}

func TestOwnToxic(t *testing.T) {
	t.Parallel()
	// As package faults names them (the Restore integration test checks
	// that real faults' toxics are removed).
	assert.True(t, ownToxic(fmt.Sprintf("firedrill_latency_downstream_%d_12", os.Getpid())))
	assert.False(t, ownToxic("users_latency"), "a toxic the user made")
	assert.False(t, ownToxic("firedrill_latency_downstream_1_3"), "another process's")
}
