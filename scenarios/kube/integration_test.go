package kube_test

// Tests on firedrill's own cluster (make test-kube): rehearsing a cluster
// through a user's kubeconfig and scope, the host's kernel settings, and
// nothing left behind however a test process ends.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/firedrill/firedrill/faults"
	kfaults "github.com/firedrill/firedrill/faults/kube"
	"github.com/firedrill/firedrill/scenarios"
	"github.com/firedrill/firedrill/scenarios/kube"
)

// stubManifest is a Deployment of the stub labelled app=NAME, with its
// Service NAME on port 80.
func stubManifest(name string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, labels: {app: %[1]s}}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: stub
        image: %[2]s
        imagePullPolicy: Never
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  selector: {app: %[1]s}
  ports: [{port: 80, targetPort: 8080}]
`, name, scenarios.Image(scenarios.ImageStub))
}

// staging is a namespace with the user's own system in it (api and db),
// created with the admin client as a user's deployment would be, and
// deleted at the end.
func staging(t *testing.T, own *kube.Cluster) string {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, own.Load(ctx, scenarios.Image(scenarios.ImageStub), scenarios.Image(scenarios.ImageToxiproxy)))
	ns, err := own.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "staging-", Labels: map[string]string{kube.LabelFiredrill: "true"},
	}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = own.Client.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), ns.Name, metav1.DeleteOptions{})
	})
	// The user's system, created as the user would (no firedrill labels).
	for _, app := range []string{"api", "db"} {
		one := int32(1)
		lbl := map[string]string{"app": app}
		_, err := own.Client.AppsV1().Deployments(ns.Name).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: app, Labels: lbl},
			Spec: appsv1.DeploymentSpec{
				Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: lbl},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: lbl},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "stub", Image: scenarios.Image(scenarios.ImageStub), ImagePullPolicy: corev1.PullNever,
					}}},
				},
			},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = own.Client.CoreV1().Services(ns.Name).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: app},
			Spec:       corev1.ServiceSpec{Selector: lbl, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for _, app := range []string{"api", "db"} {
		require.NoError(t, own.Workload("Deployment", ns.Name, app).WaitAvailable(ctx, time.Minute))
	}
	return ns.Name
}

// A rehearsal of an existing cluster through the user's kubeconfig acts
// only in the listed namespace, on what matches the selector; everything
// else is refused with ErrOutOfScope and left as it was.
func TestRehearseExistingClusterWithinScope(t *testing.T) {
	own := kube.Local(t)
	ns, other := staging(t, own), staging(t, own)
	ctx := t.Context()

	c, err := kube.Connect(ctx, kube.LocalKubeconfig(), kube.Scope{Namespaces: []string{ns}, Selector: "app=api"})
	require.NoError(t, err)
	defer c.Close(ctx)
	require.False(t, c.Own(), "through a kubeconfig: a user's cluster")

	api := c.Workload("Deployment", ns, "api")
	db := c.Workload("Deployment", ns, "db")
	in := faults.NewInjector()
	in.Guard(t)

	// In scope: a pod of api is deleted and replaced.
	before, err := api.Pods(ctx)
	require.NoError(t, err)
	_, err = in.Inject(ctx, kfaults.DeletePod(api))
	require.NoError(t, err)
	require.NoError(t, api.WaitAvailable(ctx, time.Minute))
	after, err := api.Pods(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, before[0].UID, after[len(after)-1].UID, "api's pod was replaced")

	// Refused, each with ErrOutOfScope, nothing changed:
	dbPods, err := db.Pods(ctx)
	require.NoError(t, err)
	refused := map[string]faults.Fault{
		"a pod the selector does not match":  kfaults.DeletePod(db),
		"scaling what the selector excludes": kfaults.ScaleToZero(db),
		"a namespace not listed":             kfaults.DeletePod(c.Workload("Deployment", other, "api")),
		"limits outside the selector":        kfaults.Limits(db, "", "", "64Mi"),
		"a node not listed":                  kfaults.Drain(c.Node(own.Workers()[0])),
	}
	for what, f := range refused {
		_, err := in.Inject(ctx, f)
		require.ErrorIs(t, err, kube.ErrOutOfScope, what)
	}
	_, err = c.NodeContainer(ctx, own.Workers()[0])
	require.ErrorIs(t, err, kube.ErrOutOfScope, "node containers: not listed")
	c2, err := kube.Connect(ctx, kube.LocalKubeconfig(), kube.Scope{Namespaces: []string{ns}, Nodes: own.Workers()})
	require.NoError(t, err)
	defer c2.Close(ctx)
	_, err = c2.NodeContainer(ctx, own.Workers()[0])
	require.ErrorIs(t, err, kube.ErrNotOwnNode, "a user's node is never killed or partitioned, even when listed")
	_, err = in.Inject(ctx, kfaults.KillContainer(c2.Workload("Deployment", ns, "api"), ""))
	require.ErrorIs(t, err, kube.ErrNotOwnNode)

	dbAfter, err := db.Pods(ctx)
	require.NoError(t, err)
	assert.Equal(t, dbPods[0].UID, dbAfter[0].UID, "db untouched")
	n, err := db.Replicas(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)

	// A system started in the listed namespace (no namespace of its own:
	// Scope.CreateNamespaces is not set), with a link through toxiproxy
	// reached over a port-forward; its objects are deleted at the end.
	_, err = kube.StartContext(ctx, c, kube.System{Name: "probe", Manifests: []string{stubManifest("api2")}})
	require.ErrorIs(t, err, kube.ErrOutOfScope, "no namespace of its own without Scope.CreateNamespaces")
	cAll, err := kube.Connect(ctx, kube.LocalKubeconfig(), kube.Scope{Namespaces: []string{ns}})
	require.NoError(t, err)
	defer cAll.Close(ctx)
	r, err := kube.StartContext(ctx, cAll, kube.System{
		Name: "probe", Namespace: ns, Manifests: []string{stubManifest("api2")},
		Links: []kube.Link{{Name: "api2", Service: "api2", Port: 80, Host: true}},
	})
	require.NoError(t, err)
	addr := r.MustLink("api2").HostAddr
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
	// kube-proxy programs a new Service within about a second of it: the
	// first requests may find no route yet.
	require.Eventually(t, func() bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
		if err != nil {
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond, "GET /healthz through the link over the port-forward")
	require.NoError(t, r.Close(ctx))
	deps, err := own.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var names []string
	for _, d := range deps.Items {
		names = append(names, d.Name)
	}
	assert.ElementsMatch(t, []string{"api", "db"}, names, "the probe system's objects are gone, the user's stay")
}

// kubelet insists on kernel.panic=10, kernel.panic_on_oops=1 and
// vm.overcommit_memory=1; the nodes see those values, the host keeps its
// own, which are those scripts/cluster.sh recorded before the cluster
// started.
func TestHostKernelSettingsUnchanged(t *testing.T) {
	c := kube.Local(t)
	keys := []string{"kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory"}
	host := map[string]string{}
	for _, k := range keys {
		raw, err := os.ReadFile("/proc/sys/" + k)
		require.NoError(t, err)
		host[strings.ReplaceAll(k, "/", ".")] = strings.TrimSpace(string(raw))
	}
	rec, err := os.ReadFile(strings.TrimSuffix(kube.LocalKubeconfig(), "kubeconfig") + "sysctl.before")
	require.NoError(t, err, "scripts/cluster.sh up records the host's values")
	for _, line := range strings.Split(strings.TrimSpace(string(rec)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, line)
		assert.Equal(t, v, host[k], "host %s now vs before the cluster started", k)
	}
	node, err := c.NodeContainer(t.Context(), c.Workers()[0])
	require.NoError(t, err)
	want := map[string]string{"kernel/panic": "10", "kernel/panic_on_oops": "1", "vm/overcommit_memory": "1"}
	for _, k := range keys {
		code, out, err := node.Exec(t.Context(), []string{"cat", "/proc/sys/" + k})
		require.NoError(t, err)
		require.Zero(t, code)
		assert.Equal(t, want[k], strings.TrimSpace(out), "node %s sees kubelet's value", k)
	}
	t.Logf("host: %v; nodes: %v", host, want)
}

// ---- nothing left behind --------------------------------------------------

const (
	leakChildEnv = "FIREDRILL_KUBE_LEAK_CHILD"
	leakNSEnv    = "FIREDRILL_KUBE_LEAK_NS"
)

// TestKubeLeakChild is the child of TestNothingLeftBehind: it starts a
// system, partitions and cordons a worker, adds a latency toxic, scales
// the user's api to zero and lowers the user's db's memory limit (in the
// parent's staging namespace), and ends as its mode says.
func TestKubeLeakChild(t *testing.T) {
	mode := os.Getenv(leakChildEnv)
	if mode == "" {
		t.Skip("the child of TestNothingLeftBehind")
	}
	if testing.Short() {
		t.Skip("needs the cluster")
	}
	ns := os.Getenv(leakNSEnv)
	c, err := kube.LocalContext(t.Context(), kube.Scope{Namespaces: []string{ns}})
	require.NoError(t, err)
	r := kube.Start(t, c, kube.System{Name: "leak-" + mode, Images: []string{scenarios.Image(scenarios.ImageStub)},
		Manifests: []string{stubManifest("api")}, Links: []kube.Link{{Name: "api", Service: "api", Port: 80, Host: true}}})
	in := faults.NewInjector()
	in.Guard(t)
	worker := c.Workers()[0]
	for _, f := range []faults.Fault{
		kfaults.NodePartition(kfaults.Node(c, worker), kfaults.Outbound),
		kfaults.Cordon(c.Node(worker)),
		faults.Latency(r.MustLink("api"), time.Second),
		kfaults.ScaleToZero(c.Workload("Deployment", ns, "api")),
		kfaults.Limits(c.Workload("Deployment", ns, "db"), "", "", "64Mi"),
	} {
		_, err := in.Inject(t.Context(), f)
		require.NoError(t, err)
	}
	fmt.Println("FAULTS IN EFFECT")
	switch mode {
	case "fail":
		t.Fatal("failing on purpose")
	case "panic":
		panic("panicking on purpose")
	case "timeout", "sigint", "kill9":
		time.Sleep(10 * time.Minute)
	}
}

// Whatever way a test process ends (pass, fail, panic, -timeout, SIGINT)
// its namespace is deleted, the partition healed, the node uncordoned, the
// user's workloads scaled back and their limits put back. After kill -9,
// when nothing of the process runs, kube.Wipe does it.
func TestNothingLeftBehind(t *testing.T) {
	c := kube.Local(t)
	ns := staging(t, c)
	user, err := kube.LocalContext(t.Context(), kube.Scope{Namespaces: []string{ns}})
	require.NoError(t, err)
	defer user.Close(t.Context())
	for _, mode := range []string{"pass", "fail", "panic", "timeout", "sigint", "kill9"} {
		t.Run(mode, func(t *testing.T) {
			run := "leak-" + mode + "-" + fmt.Sprint(time.Now().UnixNano())
			args := []string{"-test.run=^TestKubeLeakChild$", "-test.v"}
			if mode == "timeout" {
				args = append(args, "-test.timeout=35s")
			}
			cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
			cmd.Env = append(os.Environ(), leakChildEnv+"="+mode, leakNSEnv+"="+ns, scenarios.EnvRunID+"="+run, "FIREDRILL_PROGRESS=0")
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			inEffect := func() bool { return strings.Contains(out.String(), "FAULTS IN EFFECT") }
			switch mode {
			case "sigint":
				require.Eventually(t, inEffect, 90*time.Second, 50*time.Millisecond, "%s", &out)
				require.NoError(t, cmd.Process.Signal(os.Interrupt))
			case "kill9":
				require.Eventually(t, inEffect, 90*time.Second, 50*time.Millisecond, "%s", &out)
				require.NoError(t, cmd.Process.Kill())
			}
			err := cmd.Wait()
			require.True(t, inEffect(), "the child got as far as its faults:\n%s", &out)
			if mode == "pass" {
				require.NoError(t, err, "%s", &out)
			} else {
				require.Error(t, err, "the child fails when it %ss:\n%s", mode, &out)
			}
			if mode == "kill9" {
				l, err := c.Client.CoreV1().Namespaces().List(t.Context(), metav1.ListOptions{LabelSelector: kube.LabelRun + "=" + run})
				require.NoError(t, err)
				require.Len(t, l.Items, 1, "kill -9 leaves the namespace (nothing of the process ran)")
				wiped, err := kube.Wipe(t.Context(), user)
				require.NoError(t, err)
				t.Logf("kube.Wipe after kill -9: %+v", wiped)
				assert.Contains(t, wiped.Namespaces, l.Items[0].Name)
			}
			assertNothingLeft(t, c, user, ns, run)
		})
	}
}

// assertNothingLeft: no namespace of run (one being deleted must be gone
// within a minute), no partition rule in any node, no node cordoned, the
// user's api back to 1 replica and db without limits.
func assertNothingLeft(t *testing.T, c, user *kube.Cluster, ns, run string) {
	t.Helper()
	ctx := t.Context()
	require.Eventually(t, func() bool {
		l, err := c.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: kube.LabelRun + "=" + run})
		return err == nil && len(l.Items) == 0
	}, time.Minute, 250*time.Millisecond, "the namespaces of run %s are deleted", run)
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, n := range nodes.Items {
		assert.False(t, n.Spec.Unschedulable, "node %s uncordoned", n.Name)
		assert.NotContains(t, n.Annotations, kube.AnnotationCordoned)
	}
	n, err := user.Workload("Deployment", ns, "api").Replicas(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "the user's api scaled back")
	res, err := user.Workload("Deployment", ns, "db").Resources(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, res.Limits, "the user's db limits put back")
	require.Eventually(t, func() bool {
		for _, n := range c.NodeNames() {
			if ok, err := c.Node(n).Ready(ctx); err != nil || !ok {
				return false
			}
		}
		return true
	}, 90*time.Second, 500*time.Millisecond, "every node is Ready again")
	for _, w := range c.Workers() {
		node, err := c.NodeContainer(ctx, w)
		require.NoError(t, err)
		_, rules, err := node.Exec(ctx, []string{"iptables", "-S"})
		require.NoError(t, err)
		assert.NotContains(t, rules, "firedrill-partition", "node %s healed", w)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A pod that cannot start fails Start at once (not at the ready timeout),
// naming the reason, with the pod's events and the last lines of its log.
func TestStartFailsFastOnABadPod(t *testing.T) {
	c := kube.Local(t)
	for _, tc := range []struct {
		name, manifest, want string
	}{
		{"image not in the nodes", strings.Replace(stubManifest("api"), scenarios.Image(scenarios.ImageStub), "firedrill/no-such-image:1", 1), "ErrImageNeverPull"},
		{"crash loop", strings.Replace(stubManifest("api"), "        imagePullPolicy: Never\n", "        imagePullPolicy: Never\n        args: [\"-addr=nonsense\"]\n", 1), "CrashLoopBackOff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r, err := kube.StartContext(t.Context(), c, kube.System{Name: "bad", Images: []string{scenarios.Image(scenarios.ImageStub)},
				Manifests: []string{tc.manifest}, ReadyTimeout: 2 * time.Minute})
			t.Cleanup(func() { _ = r.Close(context.WithoutCancel(t.Context())) })
			require.ErrorIs(t, err, kube.ErrNotReady)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "event ")
			assert.Less(t, time.Since(start), time.Minute, "fails before the 2-minute ready timeout")
			t.Logf("after %s: %v", time.Since(start).Round(100*time.Millisecond), err)
		})
	}
}

// Pods reach the cluster and nothing else: from a pod's network namespace,
// a ClusterIP that no Service has (so kube-proxy never rewrites it) is
// refused at once inside the node (scripts/cluster-node.sh,
// FIREDRILL-EGRESS) instead of leaving through the host's default route.
func TestPodsCannotLeaveTheCluster(t *testing.T) {
	c := kube.Local(t)
	kube.Start(t, c, kube.System{Name: "egress", Images: []string{scenarios.Image(scenarios.ImageStub)},
		Manifests: []string{stubManifest("api")}, Links: []kube.Link{{Name: "api", Service: "api", Port: 80}}})
	cp, err := kube.LocalContext(t.Context(), kube.Scope{Nodes: []string{c.ControlPlane()}})
	require.NoError(t, err)
	defer cp.Close(t.Context())
	node, err := cp.NodeContainer(t.Context(), c.ControlPlane())
	require.NoError(t, err)
	// The toxiproxy pod runs on the control plane's node: dial from its
	// network namespace.
	script := `ns=$(ip netns list | cut -d" " -f1 | head -n1); [ -n "$ns" ] || { echo "no pod netns"; exit 2; }
start=$(date +%s%N)
if ip netns exec "$ns" timeout 5 bash -c 'exec 3<>/dev/tcp/10.96.255.254/80' 2>/tmp/err; then echo connected; exit 1; fi
echo "refused after $(( ($(date +%s%N) - start) / 1000000 )) ms: $(cat /tmp/err)"`
	code, out, err := node.Exec(t.Context(), []string{"bash", "-c", script})
	require.NoError(t, err)
	require.Zero(t, code, out)
	assert.Contains(t, out, "Connection refused", "refused by the node, not timed out or answered from outside")
	t.Log(strings.TrimSpace(out))
	_, rules, err := node.Exec(t.Context(), []string{"iptables", "-S", "FIREDRILL-EGRESS"})
	require.NoError(t, err)
	assert.Contains(t, rules, "-j REJECT")
}
