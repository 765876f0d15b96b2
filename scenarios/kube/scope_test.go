package kube

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/labels"
)

func scoped(t *testing.T, s Scope, own bool) *Cluster {
	t.Helper()
	sel := labels.Everything()
	if s.Selector != "" {
		var err error
		sel, err = labels.Parse(s.Selector)
		require.NoError(t, err)
	}
	c := &Cluster{scope: s, selector: sel, created: map[string]bool{}}
	if own {
		c.own = &ownCluster{name: "fd", controlPlane: "fd-0", nodes: map[string]string{"fd-0": "id0", "fd-1": "id1", "fd-2": "id2"}}
	}
	return c
}

// A user's cluster: only the listed namespaces, only objects matching the
// selector, only listed nodes; and node-container faults never.
func TestScopeRefusesWhatTheUserDidNotList(t *testing.T) {
	c := scoped(t, Scope{Namespaces: []string{"staging"}, Selector: "app in (api, worker)", Nodes: []string{"node-a"}}, false)

	assert.NoError(t, c.check("Pod", "staging", "api-1", map[string]string{"app": "api"}))
	for _, tc := range []struct {
		name, ns string
		lbls     map[string]string
		want     string
	}{
		{"another namespace", "prod", map[string]string{"app": "api"}, `namespace "prod" is not in Scope.Namespaces [staging]`},
		{"kube-system", "kube-system", map[string]string{"app": "api"}, `namespace "kube-system"`},
		{"selector not matched", "staging", map[string]string{"app": "db"}, `do not match Scope.Selector "app in (api, worker)"`},
		{"no labels", "staging", nil, "do not match Scope.Selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.check("Pod", tc.ns, "x", tc.lbls)
			require.ErrorIs(t, err, ErrOutOfScope)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.NoError(t, c.checkNode("node-a"))
	err := c.checkNode("node-b")
	require.ErrorIs(t, err, ErrOutOfScope)
	assert.Contains(t, err.Error(), "not in Scope.Nodes [node-a]")
	_, err = c.nodeContainer("node-a")
	require.ErrorIs(t, err, ErrNotOwnNode, "a user's nodes are not containers here: only cordon and drain")

	// Without Scope.Nodes no node at all.
	c = scoped(t, Scope{Namespaces: []string{"staging"}}, false)
	require.ErrorIs(t, c.checkNode("node-a"), ErrOutOfScope)
}

// Firedrill's own cluster: the namespaces Start created are in scope,
// others are not; the control plane's node is refused unless listed.
func TestScopeOwnCluster(t *testing.T) {
	c := scoped(t, Scope{}, true)
	require.ErrorIs(t, c.checkNamespace("default"), ErrOutOfScope)
	c.created["fd-api-x1"] = true
	assert.NoError(t, c.checkNamespace("fd-api-x1"))
	assert.NoError(t, c.checkNode("fd-1"))
	err := c.checkNode("fd-0")
	require.ErrorIs(t, err, ErrOutOfScope)
	assert.Contains(t, err.Error(), "control plane")
	_, err = c.nodeContainer("fd-9")
	require.ErrorIs(t, err, ErrNotOwnNode)
	id, err := c.nodeContainer("fd-2")
	require.NoError(t, err)
	assert.Equal(t, "id2", id)

	c = scoped(t, Scope{Nodes: []string{"fd-0"}}, true)
	require.NoError(t, c.checkNode("fd-0"), "listed: allowed")
	require.ErrorIs(t, c.checkNode("fd-1"), ErrOutOfScope)
}

func TestConnectRefusesAnUnboundedScope(t *testing.T) {
	ctx := context.Background()
	_, err := Connect(ctx, "/nonexistent", Scope{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Scope.Namespaces is empty")
	_, err = Connect(ctx, "/nonexistent", Scope{Namespaces: []string{""}})
	require.ErrorContains(t, err, "empty name")
	_, err = Connect(ctx, "/nonexistent", Scope{Namespaces: []string{"a"}, Selector: "app in ("})
	require.ErrorContains(t, err, "Scope.Selector")
	_, err = Connect(ctx, "/nonexistent/kubeconfig", Scope{Namespaces: []string{"a"}})
	require.ErrorIs(t, err, ErrNoCluster)
	assert.Contains(t, err.Error(), "/nonexistent/kubeconfig")
}

func TestDecodeManifests(t *testing.T) {
	expand := func(kind, name string) (string, error) {
		if kind == "link" && name == "db" {
			return "10.96.0.9:20000", nil
		}
		return "", errors.New("unknown")
	}
	objs, err := decode([]string{`apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {DB: "${link:db}"}
---
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {ports: [{port: 5432}]}
`}, expand)
	require.NoError(t, err)
	require.Len(t, objs, 2, "the empty document is skipped")
	assert.Equal(t, "10.96.0.9:20000", objs[0].u.Object["data"].(map[string]any)["DB"])
	assert.Equal(t, "Service", objs[1].u.GetKind())

	for _, tc := range []struct{ doc, want string }{
		{"kind: Pod\nmetadata: {name: x}\n", "no apiVersion or kind"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {}\n", "no metadata.name"},
		{"apiVersion: v1\nkind: List\nmetadata: {name: l}\nitems: []\n", "a List"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {a: ${link:nope}}\n", "${link:nope}: unknown"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: x\n", "manifest 1, document 1"},
	} {
		_, err := decode([]string{tc.doc}, expand)
		require.Error(t, err, tc.doc)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestSystemValidate(t *testing.T) {
	err := System{Name: "Bad_Name", Links: []Link{{Name: "a"}, {Name: "a", Service: "s", Port: 80}}}.Validate()
	require.Error(t, err)
	for _, want := range []string{"System.Name", "System.Manifests is empty", "Service \"\", Port 0", `link "a" declared twice`} {
		assert.Contains(t, err.Error(), want)
	}
	require.NoError(t, System{Name: "ok", Manifests: []string{"x"}, Links: []Link{{Name: "a", Service: "s", Port: 80}}}.Validate())
	assert.True(t, strings.HasPrefix(toxiproxyManifest(System{Links: []Link{{}}}, "fd-0", nil), "apiVersion: apps/v1"))
}
