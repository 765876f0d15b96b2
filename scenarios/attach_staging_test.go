package scenarios_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios"
)

// staging is an environment started outside firedrill, with plain Docker
// API calls, as a user's staging would be: a service ("api", the stub)
// behind a toxiproxy proxy named "api" whose listen port is published on
// 127.0.0.1, and a bystander container on the same network that no drill
// may touch. Everything is removed when the test ends.
type staging struct {
	DockerHost string // the daemon, named explicitly
	API        string // the service's container name
	APIID      string
	Bystander  string // a container that is not listed
	Network    string
	Toxiproxy  string // toxiproxy's API URL, on loopback
	Endpoint   string // the "api" proxy's address on loopback

	docker *client.Client
	toxi   *toxiproxy.Client
}

const stagingDockerHost = "unix:///var/run/docker.sock"

// startStaging starts the staging environment. It needs the images
// firedrill/stub and firedrill/toxiproxy (make images).
func startStaging(t *testing.T) *staging {
	t.Helper()
	scenarios.RequireDocker(t)
	ctx := t.Context()
	dc, err := client.New(client.WithHost(stagingDockerHost))
	require.NoError(t, err)
	t.Cleanup(func() { _ = dc.Close() })
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "fd-staging-" + hex.EncodeToString(b[:])
	labels := map[string]string{
		scenarios.LabelFiredrill: "true", scenarios.LabelRun: scenarios.RunID(),
		scenarios.LabelTest: t.Name(), scenarios.LabelSystem: "staging", scenarios.LabelInstance: prefix,
	}
	s := &staging{DockerHost: stagingDockerHost, API: prefix + "-api", Bystander: prefix + "-bystander", Network: prefix, docker: dc}

	t.Cleanup(func() { _, _ = dc.NetworkRemove(context.Background(), s.Network, client.NetworkRemoveOptions{}) })
	_, err = dc.NetworkCreate(ctx, s.Network, client.NetworkCreateOptions{Labels: labels})
	require.NoError(t, err, "create network")

	s.APIID = s.run(t, labels, s.API, scenarios.Image(scenarios.ImageStub), nil, "api")
	s.run(t, labels, s.Bystander, scenarios.Image(scenarios.ImageStub), nil, "bystander")
	toxiID := s.run(t, labels, prefix+"-toxiproxy", scenarios.Image(scenarios.ImageToxiproxy), []string{"8474/tcp", "20000/tcp"}, "toxiproxy")

	res, err := dc.ContainerInspect(ctx, toxiID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	ports := res.Container.NetworkSettings.Ports
	s.Toxiproxy = "http://127.0.0.1:" + ports[network.MustParsePort("8474/tcp")][0].HostPort
	s.Endpoint = "127.0.0.1:" + ports[network.MustParsePort("20000/tcp")][0].HostPort
	s.toxi = toxiproxy.NewClient(s.Toxiproxy)
	eventually(t, 10*time.Second, func() error { _, err := s.toxi.Version(); return err })
	_, err = s.toxi.CreateProxy("api", "0.0.0.0:20000", "api:8080")
	require.NoError(t, err, "create the proxy")
	eventually(t, 10*time.Second, func() error { return httpGet(ctx, "http://"+s.Endpoint+"/healthz") })
	return s
}

// run creates and starts a container on the staging network, removed when
// the test ends (the cleanup is registered before the create).
func (s *staging) run(t *testing.T, labels map[string]string, name, image string, ports []string, alias string) string {
	t.Helper()
	ctx := t.Context()
	t.Cleanup(func() {
		_, _ = s.docker.ContainerRemove(context.Background(), name, client.ContainerRemoveOptions{Force: true})
	})
	cfg := &container.Config{Image: image, Labels: labels, ExposedPorts: network.PortSet{}}
	host := &container.HostConfig{PortBindings: network.PortMap{}}
	for _, p := range ports {
		port := network.MustParsePort(p)
		cfg.ExposedPorts[port] = struct{}{}
		host.PortBindings[port] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
	}
	created, err := s.docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name, Config: cfg, HostConfig: host,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			s.Network: {Aliases: []string{alias}},
		}},
	})
	require.NoError(t, err, "create %s (run make images if the image is missing)", name)
	_, err = s.docker.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	require.NoError(t, err, "start %s", name)
	return created.ID
}

// inspect reads a container's state straight from Docker.
func (s *staging) inspect(t *testing.T, name string) container.InspectResponse {
	t.Helper()
	res, err := s.docker.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	require.NoError(t, err)
	return res.Container
}

// toxics lists the toxics on the "api" proxy, straight from toxiproxy.
func (s *staging) toxics(t *testing.T) ([]string, bool) {
	t.Helper()
	p, err := s.toxi.Proxy("api")
	require.NoError(t, err)
	names := []string{}
	for _, tx := range p.ActiveToxics {
		names = append(names, tx.Name)
	}
	return names, p.Enabled
}

// unchanged is what a drill must leave as it was on an unlisted container.
type unchanged struct {
	Status    container.ContainerState
	StartedAt string
	Restarts  int
	Pid       int
	Networks  int
	Memory    int64
}

func (s *staging) snapshot(t *testing.T, name string) unchanged {
	t.Helper()
	c := s.inspect(t, name)
	return unchanged{c.State.Status, c.State.StartedAt, c.RestartCount, c.State.Pid, len(c.NetworkSettings.Networks), c.HostConfig.Memory}
}

func httpGet(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			require.NoError(t, err, "not within %v", within)
		}
		select {
		case <-t.Context().Done():
			require.NoError(t, errors.Join(err, t.Context().Err()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
