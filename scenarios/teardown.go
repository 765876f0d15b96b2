package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// teardown removes the containers ids (force, volumes, in parallel), then
// any other container labelled with instance, then the network(s) of the
// instance. Resources already gone are not errors.
func teardown(ctx context.Context, d DockerAPI, ids []string, networkID, instance string) error {
	var (
		mu   sync.Mutex
		errs []error
	)
	note := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	removeAll := func(ids []string) {
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				_, err := d.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
				if err != nil && !isNotFound(err) {
					note(fmt.Errorf("remove container %s: %w", short(id), err))
				}
			})
		}
		wg.Wait()
	}
	removeAll(ids)

	filter := client.Filters{}.Add("label", LabelInstance+"="+instance)
	if instance != "" {
		list, err := d.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
		if err != nil {
			note(fmt.Errorf("list leftover containers: %w", err))
		} else {
			var left []string
			for _, c := range list.Items {
				left = append(left, c.ID)
			}
			removeAll(left)
		}
	}

	nets := []string{}
	if networkID != "" {
		nets = append(nets, networkID)
	}
	if instance != "" {
		list, err := d.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
		if err != nil {
			note(fmt.Errorf("list leftover networks: %w", err))
		} else {
			for _, n := range list.Items {
				if n.ID != networkID {
					nets = append(nets, n.ID)
				}
			}
		}
	}
	for _, id := range nets {
		if _, err := d.NetworkRemove(ctx, id, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			note(fmt.Errorf("remove network %s: %w", short(id), err))
		}
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// live holds every started, not yet closed system of this process, for the
// signal handler. It is the package's only global state, created on the
// first start.
var live = struct {
	sync.Mutex
	systems map[*Running]struct{}
	once    sync.Once
}{systems: map[*Running]struct{}{}}

func track(r *Running) {
	live.once.Do(handleSignals)
	live.Lock()
	live.systems[r] = struct{}{}
	live.Unlock()
}

func untrack(r *Running) {
	live.Lock()
	delete(live.systems, r)
	live.Unlock()
}

// closeAll tears every live system down in parallel.
func closeAll(timeout time.Duration) {
	live.Lock()
	var rs []*Running
	for r := range live.systems {
		rs = append(rs, r)
	}
	live.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { _ = r.Close(ctx) })
	}
	wg.Wait()
}

// handleSignals tears every live system down on SIGINT or SIGTERM, then
// re-raises the signal with its default action (the process dies as it
// would have).
func handleSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		fmt.Fprintf(os.Stderr, "firedrill: %v: tearing down running systems\n", sig)
		closeAll(10 * time.Second)
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		if s, ok := sig.(syscall.Signal); ok {
			_ = syscall.Kill(os.Getpid(), s)
		}
		time.Sleep(time.Second) // the re-raised signal ends the process
		os.Exit(2)
	}()
}
