package scenarios

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Images from a Dockerfile: the context is read once to hash what goes
// into it (the files .dockerignore keeps, plus the Dockerfile path, the
// build args and the target); the image is tagged <repo>:<hash16>, and a
// tag that exists means the image is up to date and nothing is built.

// BuiltImage is what Start did for a container with a Build.
type BuiltImage struct {
	// Container is the ContainerSpec name.
	Container string
	// Image is the reference the container runs: <repo>:<hash16>.
	Image string
	// Hash is the full content hash of the build context (hex).
	Hash string
	// Cached is true when the image already existed and nothing was built.
	Cached bool
	// Took is the time spent hashing the context and, when not cached,
	// building.
	Took time.Duration
}

// BuildLogTail is how many lines of the builder's output a build error
// carries.
const BuildLogTail = 10

// ctxFile is one entry of a build context.
type ctxFile struct {
	rel  string // slash-separated, relative to the context
	abs  string
	info fs.FileInfo
	link string // symlink target
}

// dockerfilePath is the Dockerfile's path relative to the context.
func (b Build) dockerfilePath() string {
	if b.Dockerfile == "" {
		return "Dockerfile"
	}
	return filepath.ToSlash(filepath.Clean(b.Dockerfile))
}

// contextFiles lists the files of the context dir that go into the build,
// in lexical order: those .dockerignore keeps, and always the Dockerfile
// and .dockerignore themselves (as the Docker CLI sends them).
func contextFiles(dir, dockerfile string) ([]ctxFile, error) {
	pm, err := dockerignore(dir)
	if err != nil {
		return nil, err
	}
	var out []ctxFile
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		excluded := false
		if pm != nil && rel != dockerfile && rel != ".dockerignore" {
			if excluded, err = pm.MatchesOrParentMatches(rel); err != nil {
				return fmt.Errorf(".dockerignore: %w", err)
			}
		}
		if excluded {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := ctxFile{rel: rel, abs: path, info: info}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if f.link, err = os.Readlink(path); err != nil {
				return err
			}
		case !info.Mode().IsRegular() && !info.IsDir():
			return nil // sockets, devices, pipes: not part of a context
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// dockerignore reads the context's .dockerignore; nil when there is none.
func dockerignore(dir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return pm, nil
}

// contextHash hashes every file of the context (path, mode, content or
// link target), the Dockerfile path, the build args and the target.
func contextHash(files []ctxFile, b Build) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "dockerfile\x00%s\x00target\x00%s\x00", b.dockerfilePath(), b.Target)
	for _, k := range sortedKeys(b.Args) {
		fmt.Fprintf(h, "arg\x00%s=%s\x00", k, b.Args[k])
	}
	for _, f := range files {
		fmt.Fprintf(h, "file\x00%s\x00%o\x00%s\x00", f.rel, f.info.Mode(), f.link)
		if !f.info.Mode().IsRegular() {
			continue
		}
		fmt.Fprintf(h, "%d\x00", f.info.Size())
		if err := copyFile(h, f.abs); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(w io.Writer, path string) error {
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(w, r)
	return err
}

// writeContext writes files as the build context's tar stream.
func writeContext(w io.Writer, files []ctxFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		hdr, err := tar.FileInfoHeader(f.info, f.link)
		if err != nil {
			return err
		}
		hdr.Name = f.rel
		if f.info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if f.info.Mode().IsRegular() {
			if err := copyFile(tw, f.abs); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

var repoInvalidRE = regexp.MustCompile(`[^a-z0-9._-]+`)

// buildRepo is the repository of spec's built image: Image's without its
// tag or digest, else firedrill-build/<system>-<container>.
func buildRepo(system string, spec ContainerSpec) string {
	if ref := spec.Image; ref != "" {
		ref, _, _ = strings.Cut(ref, "@")
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			ref = ref[:i]
		}
		return ref
	}
	name := repoInvalidRE.ReplaceAllString(strings.ToLower(system+"-"+spec.Name), "-")
	return "firedrill-build/" + strings.Trim(name, "._-")
}

// buildImage builds spec's image unless its content tag exists, and tags
// spec.Image to it when set.
func (r *Running) buildImage(ctx context.Context, spec ContainerSpec) (BuiltImage, error) {
	began := time.Now()
	b := *spec.Build
	out := BuiltImage{Container: spec.Name}
	fail := func(err error) (BuiltImage, error) {
		return out, fmt.Errorf("build image for container %q from %s: %w", spec.Name, b.Context, err)
	}
	if st, err := os.Stat(filepath.Join(b.Context, b.dockerfilePath())); err != nil || !st.Mode().IsRegular() {
		return fail(fmt.Errorf("no Dockerfile at %s: set Build.Context to the directory that holds it, or Build.Dockerfile to its path inside the context", filepath.Join(b.Context, b.dockerfilePath())))
	}
	files, err := contextFiles(b.Context, b.dockerfilePath())
	if err != nil {
		return fail(err)
	}
	if out.Hash, err = contextHash(files, b); err != nil {
		return fail(err)
	}
	out.Image = buildRepo(r.System.name(), spec) + ":" + out.Hash[:16]
	if _, err := r.docker.ImageInspect(ctx, out.Image); err == nil {
		out.Cached = true
	} else if !isNotFound(err) {
		return fail(fmt.Errorf("inspect %s: %w", out.Image, err))
	} else if err := r.runBuild(ctx, b, files, out); err != nil {
		return fail(err)
	}
	if spec.Image != "" && spec.Image != out.Image {
		if _, err := r.docker.ImageTag(ctx, client.ImageTagOptions{Source: out.Image, Target: spec.Image}); err != nil {
			return fail(fmt.Errorf("tag %s as %s: %w", out.Image, spec.Image, err))
		}
	}
	out.Took = time.Since(began)
	return out, nil
}

// runBuild sends the context to the daemon's builder and waits for the
// image.
func (r *Running) runBuild(ctx context.Context, b Build, files []ctxFile, img BuiltImage) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, files)) }()
	defer pr.Close()
	args := map[string]*string{}
	for k, v := range b.Args {
		args[k] = &v
	}
	res, err := r.docker.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags:        []string{img.Image},
		Dockerfile:  b.dockerfilePath(),
		BuildArgs:   args,
		Target:      b.Target,
		Labels:      map[string]string{LabelImageBuild: "true", LabelBuildHash: img.Hash},
		Remove:      true,
		ForceRemove: true,
	})
	if err != nil {
		return fmt.Errorf("the builder refused it: %w", err)
	}
	defer res.Body.Close()
	tail, buildErr := readBuildOutput(res.Body)
	if buildErr != nil {
		return fmt.Errorf("%w; last %d lines of the builder's output:\n%s", buildErr, BuildLogTail, indent(strings.Join(tail, "\n")))
	}
	if _, err := r.docker.ImageInspect(ctx, img.Image); err != nil {
		return fmt.Errorf("the build ended but %s is missing (%w); builder's output:\n%s", img.Image, err, indent(strings.Join(tail, "\n")))
	}
	return nil
}

// readBuildOutput reads the builder's JSON messages and returns the last
// BuildLogTail lines of its output and the error it reported.
func readBuildOutput(body io.Reader) (tail []string, err error) {
	dec := json.NewDecoder(body)
	for {
		var m jsonstream.Message
		if derr := dec.Decode(&m); derr != nil {
			if errors.Is(derr, io.EOF) {
				return tail, nil
			}
			return tail, fmt.Errorf("read the builder's output: %w", derr)
		}
		for _, line := range strings.Split(m.Stream, "\n") {
			if line = strings.TrimRight(line, "\r"); strings.TrimSpace(line) != "" {
				tail = append(tail, line)
			}
		}
		if len(tail) > BuildLogTail {
			tail = tail[len(tail)-BuildLogTail:]
		}
		if m.Error != nil {
			return tail, fmt.Errorf("the build failed: %s", m.Error.Message)
		}
	}
}
