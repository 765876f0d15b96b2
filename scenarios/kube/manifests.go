package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// ErrManifest: a manifest that cannot be applied as declared.
var ErrManifest = errors.New("invalid manifest")

// object is one decoded manifest document.
type object struct {
	u   *unstructured.Unstructured
	src string // "manifest 2, document 3 (Deployment api)"
}

// placeholder matches ${link:NAME} and ${service:NAME}.
var placeholder = regexp.MustCompile(`\$\{(link|service):([^}]*)\}`)

// decode splits YAML (or JSON) documents into objects, after expanding
// placeholders with expand. Cluster-scoped kinds and objects naming
// another namespace are refused: a system lives in its namespace.
func decode(manifests []string, expand func(kind, name string) (string, error)) ([]object, error) {
	var out []object
	var errs []error
	for i, m := range manifests {
		var perr []error
		text := placeholder.ReplaceAllStringFunc(m, func(s string) string {
			sub := placeholder.FindStringSubmatch(s)
			v, err := expand(sub[1], sub[2])
			if err != nil {
				perr = append(perr, fmt.Errorf("manifest %d: %s: %w", i+1, s, err))
				return s
			}
			return v
		})
		if len(perr) > 0 {
			errs = append(errs, perr...)
			continue
		}
		dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
		for doc := 1; ; doc++ {
			var raw map[string]any
			if err := dec.Decode(&raw); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				errs = append(errs, fmt.Errorf("%w: manifest %d, document %d: %w", ErrManifest, i+1, doc, err))
				break
			}
			if len(raw) == 0 {
				continue
			}
			u := &unstructured.Unstructured{Object: raw}
			src := fmt.Sprintf("manifest %d, document %d (%s %s)", i+1, doc, u.GetKind(), u.GetName())
			switch {
			case u.GetKind() == "" || u.GetAPIVersion() == "":
				errs = append(errs, fmt.Errorf("%w: %s: no apiVersion or kind", ErrManifest, src))
				continue
			case u.GetName() == "" && u.GetGenerateName() == "":
				errs = append(errs, fmt.Errorf("%w: %s: no metadata.name", ErrManifest, src))
				continue
			case u.GetKind() == "List":
				errs = append(errs, fmt.Errorf("%w: %s: a List: give its items as documents of their own", ErrManifest, src))
				continue
			}
			out = append(out, object{u: u, src: src})
		}
	}
	return out, errors.Join(errs...)
}

// apply creates each object in ns with firedrill's labels (on the object
// and on a workload's pod template), after resolving its kind through
// discovery. Namespaced kinds only; an object naming another namespace is
// refused.
//
// firedrill's own objects (toxiproxy) are checked against the namespace
// only: Scope.Selector limits what firedrill does to the user's objects.
func (c *Cluster) apply(ctx context.Context, ns string, lbls map[string]string, objs []object) ([]*unstructured.Unstructured, error) {
	_, ours := lbls[LabelComponent]
	var created []*unstructured.Unstructured
	for _, o := range objs {
		u := o.u.DeepCopy()
		gvk := u.GroupVersionKind()
		mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			c.mapper.Reset()
			mapping, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			return created, fmt.Errorf("%w: %s: the cluster does not serve %s: %w", ErrManifest, o.src, gvk, err)
		}
		if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
			return created, fmt.Errorf("%w: %s: %s is cluster-scoped; a system's objects live in its namespace (create cluster-wide objects outside the drill)", ErrManifest, o.src, gvk.Kind)
		}
		if got := u.GetNamespace(); got != "" && got != ns {
			return created, fmt.Errorf("%w: %s: metadata.namespace %q: a system's objects go into its namespace %q; leave namespace out", ErrManifest, o.src, got, ns)
		}
		u.SetNamespace(ns)
		u.SetLabels(merge(u.GetLabels(), lbls))
		if err := c.checkNamespace(ns); err != nil {
			return created, fmt.Errorf("%s: %w", o.src, err)
		}
		if !ours {
			if err := c.check(u.GetKind(), ns, u.GetName(), u.GetLabels()); err != nil {
				return created, err
			}
		}
		if _, found, _ := unstructured.NestedMap(u.Object, "spec", "template", "metadata"); found || hasTemplate(u) {
			tl, _, _ := unstructured.NestedStringMap(u.Object, "spec", "template", "metadata", "labels")
			_ = unstructured.SetNestedStringMap(u.Object, merge(tl, lbls), "spec", "template", "metadata", "labels")
		}
		res, err := c.Dynamic.Resource(mapping.Resource).Namespace(ns).Create(ctx, u, metav1.CreateOptions{FieldManager: "firedrill"})
		if err != nil {
			return created, fmt.Errorf("create %s: %w", o.src, err)
		}
		created = append(created, res)
	}
	return created, nil
}

func hasTemplate(u *unstructured.Unstructured) bool {
	_, found, _ := unstructured.NestedMap(u.Object, "spec", "template")
	return found
}

func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// resourceOf maps a kind to its resource.
func (c *Cluster) resourceOf(gvk schema.GroupVersionKind) (schema.GroupVersionResource, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	return m.Resource, nil
}

// isGone reports a NotFound from the API.
func isGone(err error) bool { return apierrors.IsNotFound(err) }

// indent prefixes each line of s.
func indent(s, prefix string) string {
	var b bytes.Buffer
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}
