package scenarios

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// A daemon the user named must answer. testcontainers-go tries the hosts it
// knows in turn and silently moves on to the default socket when the one
// the user named does not answer, so a drill meant for another daemon would
// run on the local one; firedrill pings each named host first.

// namedHost is a Docker host the user named, and where.
type namedHost struct{ host, source string }

// dockerHostPing bounds the ping of a named host.
const dockerHostPing = 3 * time.Second

// CheckDockerHost pings every Docker daemon the user named: DOCKER_HOST, and
// the tc.host and docker.host properties of ~/.testcontainers.properties.
// One that does not answer is an error matching [ErrDockerUnreachable] that
// names it, where it was named, and the fix. Nothing named is no error (the
// default socket is then used). [Start] and [NewDockerClient] call it.
func CheckDockerHost(ctx context.Context) error {
	var errs []error
	for _, h := range namedDockerHosts() {
		if err := pingHost(ctx, h.host); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s names the daemon %s, which does not answer (%w); start that daemon, or %s to use the local one (firedrill never falls back to another daemon)",
				ErrDockerUnreachable, h.source, h.host, err, unsetHint(h.source)))
		}
	}
	return errors.Join(errs...)
}

func unsetHint(source string) string {
	if source == "DOCKER_HOST" {
		return "unset DOCKER_HOST"
	}
	return "remove it from " + source
}

// namedDockerHosts lists the hosts named by DOCKER_HOST and the
// testcontainers properties, in testcontainers-go's order.
func namedDockerHosts() []namedHost {
	props := testcontainersProperties()
	var out []namedHost
	if h := props["tc.host"]; h != "" {
		out = append(out, namedHost{h, "tc.host in " + propertiesPath()})
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		out = append(out, namedHost{h, "DOCKER_HOST"})
	}
	if h := props["docker.host"]; h != "" {
		out = append(out, namedHost{h, "docker.host in " + propertiesPath()})
	}
	return out
}

func pingHost(ctx context.Context, host string) error {
	c, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, dockerHostPing)
	defer cancel()
	_, err = c.Ping(ctx, client.PingOptions{})
	return err
}

func propertiesPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".testcontainers.properties"
	}
	return filepath.Join(home, ".testcontainers.properties")
}

// testcontainersProperties reads ~/.testcontainers.properties ("key=value"
// or "key: value" lines; '#' and '!' start comments); a missing file is
// empty.
func testcontainersProperties() map[string]string {
	out := map[string]string{}
	f, err := os.Open(propertiesPath())
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out
}
