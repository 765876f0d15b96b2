package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// restoreTimeout bounds Close's restore.
const restoreTimeout = 30 * time.Second

// Restore puts back what faults left in the attached environment, as it
// was when Attach ran: a listed container that was running and is now
// stopped, killed or paused runs again (and is waited for: its Ready, if
// any); one that was on its partition network and is cut off is connected
// again with its aliases; a listed proxy loses the toxics this process
// added (named firedrill_*_<pid>_*, absent at Attach) and is enabled again
// if it was. Nothing is stopped or removed, nothing unlisted is touched.
// It is a safety net behind the faults' own reverts (drills.Run reverts
// each fault when the drill ends): after a clean drill it finds nothing to
// do. It returns every failure, joined.
func (a *Attached) Restore(ctx context.Context) error {
	if a == nil {
		return nil
	}
	a.restoreMu.Lock() // the end hook and Close may overlap
	defer a.restoreMu.Unlock()
	var errs []error
	// Links first: a container's readiness may be checked through them.
	for _, l := range a.links {
		if err := a.restoreLink(ctx, l); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range a.containers {
		if err := a.restoreContainer(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore the attached environment: %w", err)
	}
	return nil
}

func (a *Attached) logf(format string, args ...any) {
	if a.Env.Logf != nil {
		a.Env.Logf("firedrill: attached: "+format, args...)
	}
}

// restoreContainer runs a container that was running, connects it to its
// network again, then waits for it to be ready.
func (a *Attached) restoreContainer(ctx context.Context, c *Container) error {
	snap := a.snap.containers[c.ID]
	st, err := c.State(ctx)
	if err != nil {
		return err
	}
	woken := false
	if snap.running && st.Paused {
		if err := c.Unpause(ctx); err != nil {
			return err
		}
		a.logf("unpaused %s", c.Name)
		woken = true
	}
	if snap.running && !st.Running {
		if err := c.Start(ctx); err != nil {
			return err
		}
		a.logf("started %s again (it was %s)", c.Name, st.Status)
		woken = true
	}
	if err := a.reconnect(ctx, c, snap); err != nil {
		return err
	}
	if woken {
		return c.WaitReady(ctx)
	}
	return nil
}

// reconnect connects c to its partition network if it was on it.
func (a *Attached) reconnect(ctx context.Context, c *Container, snap containerSnap) error {
	if !snap.connected || c.netErr != nil {
		return nil
	}
	on, err := a.connected(ctx, c)
	if err != nil || on {
		return err
	}
	if err := c.Connect(ctx); err != nil {
		return err
	}
	a.logf("connected %s to %s again", c.Name, c.networkLabel())
	return nil
}

// connected reports whether c is on the network Partition acts on.
func (a *Attached) connected(ctx context.Context, c *Container) (bool, error) {
	res, err := c.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return false, fmt.Errorf("inspect networks of %s: %w", c.Name, err)
	}
	if ns := res.Container.NetworkSettings; ns != nil {
		for _, ep := range ns.Networks {
			if ep != nil && ep.NetworkID == c.networkID {
				return true, nil
			}
		}
	}
	return false, nil
}

// ownToxic reports whether a toxic was added by this process's faults
// (package faults names them firedrill_<kind>_<stream>_<pid>_<seq>).
func ownToxic(name string) bool {
	return strings.HasPrefix(name, "firedrill_") && strings.Contains(name, "_"+strconv.Itoa(os.Getpid())+"_")
}

// restoreLink removes this process's toxics and enables the proxy again.
func (a *Attached) restoreLink(ctx context.Context, l *Link) error {
	snap := a.snap.proxies[l.Name]
	var ts []string
	enabled := true
	err := callCtx(ctx, func() error {
		p, err := a.toxi.Proxy(l.Name)
		if err != nil {
			return err
		}
		enabled = p.Enabled
		for _, t := range p.ActiveToxics {
			ts = append(ts, t.Name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read proxy %s: %w", l.Name, err)
	}
	var errs []error
	for _, name := range ts {
		if snap.toxics[name] || !ownToxic(name) {
			continue
		}
		if err := l.RemoveToxic(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		a.logf("removed toxic %s from %s", name, l.Name)
	}
	if snap.enabled && !enabled {
		if err := l.Enable(ctx); err != nil {
			errs = append(errs, err)
		} else {
			a.logf("enabled proxy %s again", l.Name)
		}
	}
	return errors.Join(errs...)
}

// Close restores the environment (see Restore) and closes the connection
// to the Docker host. It never stops or removes a container or a proxy:
// firedrill did not start them. It is idempotent and safe on a nil
// *Attached; later calls return the first one's result.
func (a *Attached) Close(ctx context.Context) error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return a.err
	}
	a.closed = true
	ctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	a.err = a.Restore(ctx)
	if a.unregister != nil {
		a.unregister()
	}
	if a.docker != nil {
		_ = a.docker.Close()
	}
	return a.err
}
