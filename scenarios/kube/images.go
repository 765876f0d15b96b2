package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
)

// Load copies images from the local Docker store into every node of
// firedrill's own cluster (as `scripts/cluster.sh load` does): `docker
// save` into the cluster's run directory, which each node mounts, then
// `ctr -n k8s.io images import` in each node. An image already loaded
// with the same Docker image ID is skipped. A node restarted later
// imports what the directory holds again. On a user's cluster it is a
// no-op: its nodes pull from its registry.
func (c *Cluster) Load(ctx context.Context, images ...string) error {
	if c.own == nil {
		return nil
	}
	dir := filepath.Join(c.own.runDir, "images")
	for _, img := range images {
		ins, err := c.own.docker.ImageInspect(ctx, img)
		if err != nil {
			return fmt.Errorf("kube: image %s is not in the local Docker store (%w): make images builds firedrill's; docker build yours", img, err)
		}
		safe := strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(img)
		idFile := filepath.Join(dir, safe+".id")
		if old, err := os.ReadFile(idFile); err == nil && strings.TrimSpace(string(old)) == ins.ID {
			continue
		}
		if err := c.save(ctx, img, filepath.Join(dir, safe+".tar")); err != nil {
			return err
		}
		for _, node := range c.NodeNames() {
			code, out, err := c.nodeExec(ctx, node, "ctr", "-n", "k8s.io", "images", "import", "/var/lib/firedrill/images/"+safe+".tar")
			if err == nil && code != 0 {
				err = fmt.Errorf("exit code %d", code)
			}
			if err != nil {
				return fmt.Errorf("kube: import %s into node %s: %w: %s", img, node, err, strings.TrimSpace(out))
			}
		}
		if err := os.WriteFile(idFile, []byte(ins.ID+"\n"), 0o644); err != nil {
			return fmt.Errorf("kube: record the loaded image %s: %w", img, err)
		}
	}
	return nil
}

func (c *Cluster) save(ctx context.Context, img, path string) error {
	rc, err := c.own.docker.ImageSave(ctx, []string{img})
	if err != nil {
		return fmt.Errorf("kube: docker save %s: %w", img, err)
	}
	defer rc.Close()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("kube: save %s: %w (is the cluster up? scripts/cluster.sh status)", img, err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("kube: docker save %s: %w", img, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// nodeExec runs a command inside a node container of firedrill's own
// cluster (no scope check: reads and firedrill's own plumbing only).
func (c *Cluster) nodeExec(ctx context.Context, node string, cmd ...string) (int, string, error) {
	id, ok := c.own.nodes[node]
	if !ok {
		return -1, "", fmt.Errorf("no node %s", node)
	}
	created, err := c.own.docker.ExecCreate(ctx, id, client.ExecCreateOptions{AttachStdout: true, AttachStderr: true, Cmd: cmd})
	if err != nil {
		return -1, "", err
	}
	att, err := c.own.docker.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, "", err
	}
	defer att.Close()
	out, _ := io.ReadAll(att.Reader)
	in, err := c.own.docker.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return -1, string(out), err
	}
	return in.ExitCode, string(out), nil
}

func randUint() uint64 {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
