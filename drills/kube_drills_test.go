package drills_test

// Drills on firedrill's own Kubernetes cluster (make test-kube starts it):
// a Deployment behind a Service, reached from the test through the
// toxiproxy pod's port on 127.0.0.1, and the Kubernetes faults.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	kfaults "github.com/firedrill/firedrill/faults/kube"
	"github.com/firedrill/firedrill/scenarios"
	"github.com/firedrill/firedrill/scenarios/kube"
)

// apiOpts vary the stub's Deployment.
type apiOpts struct {
	replicas int
	// readyDelay delays the first readiness probe (a slow start).
	readyDelay int
	// strategy is the Deployment's strategy type (default RollingUpdate).
	strategy string
}

// apiManifest is a Deployment of the stub (HTTP on 8080, /healthz) with
// replicas pods spread over the workers, and its Service on port 80.
func apiManifest(o apiOpts) string {
	if o.replicas == 0 {
		o.replicas = 1
	}
	if o.strategy == "" {
		o.strategy = "RollingUpdate"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: api, labels: {app: api}}
spec:
  replicas: %d
  strategy: {type: %s}
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      terminationGracePeriodSeconds: 1
      # leave a lost node's pods after 5 s, not Kubernetes' default 300 s
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: api}}}
      containers:
      - name: api
        image: %s
        imagePullPolicy: Never
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1, failureThreshold: 1, initialDelaySeconds: %d}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
`, o.replicas, o.strategy, scenarios.Image(scenarios.ImageStub), o.readyDelay)
}

// startAPI starts the stub's Deployment on the cluster, with the link
// host->api through toxiproxy.
func startAPI(t *testing.T, c *kube.Cluster, name string, o apiOpts) (*kube.Running, string) {
	t.Helper()
	r := kube.Start(t, c, kube.System{
		Name:      name,
		Images:    []string{scenarios.Image(scenarios.ImageStub)},
		Manifests: []string{apiManifest(o)},
		Links:     []kube.Link{{Name: "api", Service: "api", Port: 80, Host: true}},
	})
	return r, "http://" + r.MustLink("api").HostAddr + "/"
}

// endpointsWatch records, from the client's receipt of EndpointSlice
// watch events, when the Service api last went from no ready endpoint to
// at least one: the cluster's own record of "ready again".
type endpointsWatch struct {
	readyAgain chan time.Time
}

func watchEndpoints(t *testing.T, c *kube.Cluster, ns string) *endpointsWatch {
	t.Helper()
	w, err := c.Client.DiscoveryV1().EndpointSlices(ns).Watch(t.Context(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=api"})
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	ew := &endpointsWatch{readyAgain: make(chan time.Time, 16)}
	go func() {
		ready := map[string]int{} // ready endpoints per slice
		wasEmpty := false
		for ev := range w.ResultChan() {
			at := time.Now()
			sl, ok := ev.Object.(*discoveryv1.EndpointSlice)
			if !ok {
				continue
			}
			n := 0
			if ev.Type != watch.Deleted {
				for _, e := range sl.Endpoints {
					if e.Conditions.Ready != nil && *e.Conditions.Ready {
						n++
					}
				}
			}
			ready[sl.Name] = n
			total := 0
			for _, v := range ready {
				total += v
			}
			if total == 0 {
				wasEmpty = true
			} else if wasEmpty {
				wasEmpty = false
				ew.readyAgain <- at
			}
		}
	}()
	return ew
}

// kubeProxySyncs are the ends of the first n rules syncs that kube-proxy
// on the control plane's node (where the load enters, through the
// toxiproxy pod's NodePort) started after since, by its own log
// ("Syncing iptables rules" / "SyncProxyRules complete", --v=2).
func kubeProxySyncs(t *testing.T, c *kube.Cluster, since time.Time, n int) []time.Time {
	t.Helper()
	path := c.NodeLog(c.ControlPlane(), "kube-proxy.log")
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err := os.ReadFile(path)
		require.NoError(t, err, "kube-proxy's log (scripts/cluster-node.sh runs it with --v=2)")
		var ends []time.Time
		started := false
		for _, line := range strings.Split(string(raw), "\n") {
			at, ok := klogTime(line, since)
			if !ok {
				continue
			}
			switch {
			case strings.Contains(line, `"Syncing iptables rules"`) && !at.Before(since.Add(-50*time.Millisecond)):
				started = true
			case started && strings.Contains(line, `"SyncProxyRules complete"`):
				ends = append(ends, at)
				started = false
			}
			if len(ends) == n {
				return ends
			}
		}
		if time.Now().After(deadline) {
			require.NotEmpty(t, ends, "no kube-proxy rules sync after %s in %s", since, path)
			return ends
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// klogTime parses the time of a klog line ("I1201 15:47:39.329123 ...",
// UTC in the nodes), in the year of ref.
func klogTime(line string, ref time.Time) (time.Time, bool) {
	if len(line) < 21 || !strings.ContainsRune("IWEF", rune(line[0])) {
		return time.Time{}, false
	}
	at, err := time.ParseInLocation("0102 15:04:05.000000", line[1:21], time.UTC)
	if err != nil {
		return time.Time{}, false
	}
	return at.AddDate(ref.UTC().Year(), 0, 0), true
}

// freshConns is an HTTP client that opens a new connection per request.
func freshConns() *http.Client {
	c := load.NewClient(0)
	c.Transport.(*http.Transport).DisableKeepAlives = true
	return c
}

// readyTransition is the Ready condition's lastTransitionTime of the
// workload's newest pod: the kubelet's record, in whole seconds.
func readyTransition(ctx context.Context, t *testing.T, w *kube.Workload) time.Time {
	t.Helper()
	pods, err := w.Pods(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, pods)
	p := pods[len(pods)-1]
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	t.Fatalf("pod %s is not Ready", p.Name)
	return time.Time{}
}

// TestKubePodKill: the Deployment's only pod deleted with no grace; the
// ReplicaSet replaces it. firedrill's TTR (from the load through the
// Service) must agree with the cluster's own record of "ready again" (the
// receipt of the EndpointSlice event with a ready endpoint, and the new
// pod's Ready transition, in whole seconds) within their bounds.
func TestKubePodKill(t *testing.T) {
	c := kube.Local(t)
	r, url := startAPI(t, c, "pod-kill", apiOpts{})
	api := r.Deployment("api")
	ew := watchEndpoints(t, c, r.Namespace)

	res := drills.Run(t, drills.Drill{
		Name: "k8s-pod-kill",
		// A new connection per request: what the Service does for a new
		// client, which the cluster's record is about (a pooled connection
		// to the deleted pod fails only when its request times out).
		Workload: load.HTTP(load.Constant(100), load.Target{URL: url, Client: freshConns()}, load.WithTimeout(250*time.Millisecond)),
		Steady:   slo.SuccessRatio(0.99),
		Faults:   faults.At(time.Second, kfaults.DeletePod(api)),
		Budget:   drills.Budget{TTR: 20 * time.Second},
		Limits:   drills.Limits{RecoverWithin: 45 * time.Second},
	})
	require.True(t, res.Passed(), "the drill must pass on a healthy Deployment: %v", res.Missed())
	ttr := res.Measures.TTR
	require.True(t, ttr.Valid)

	tl := res.Timeline
	// The first "ready again" after the onset (one may come earlier, while
	// the Deployment was starting).
	var readyAt time.Time
	for readyAt.IsZero() {
		select {
		case at := <-ew.readyAgain:
			if at.After(tl.Onset) {
				readyAt = at
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no EndpointSlice event showed the Service ready again after the onset")
		}
	}
	ep := res.Episodes[0]
	// The cluster's record of "ready again" has two steps: the EndpointSlice
	// event with a ready endpoint (the pod passed its readiness probe), then
	// kube-proxy on the node the load enters by programming the Service's
	// rules. kube-proxy syncs at most once per minSyncPeriod (1 s by
	// default), so the change reaches the rules at the end of the first or
	// the second sync after the event. Traffic can flow only then: the
	// restored instant must fall, within firedrill's stated bounds plus one
	// bucket, on the end of one of those two syncs.
	syncs := kubeProxySyncs(t, c, readyAt, 2)
	slack := res.Bucket
	var cluster []time.Duration
	match := false
	for _, s := range syncs {
		d := s.Sub(tl.Onset)
		cluster = append(cluster, d.Round(time.Millisecond))
		match = match || (d >= ttr.Lower-slack && d <= ttr.Upper+slack)
	}
	t.Logf("TTR %s %s (onset ± %s by %s); cluster: endpoint ready %s after onset, kube-proxy syncs ended %v after onset",
		ttr, ttr.Interval(), ep.OnsetBounds.Width().Round(time.Millisecond), ep.OnsetSource, readyAt.Sub(tl.Onset).Round(time.Millisecond), cluster)
	assert.True(t, readyAt.Before(tl.Restored), "the load was restored (%s) before the cluster had a ready endpoint (%s)", tl.Restored, readyAt)
	assert.True(t, match, "no kube-proxy sync after the endpoint was ready (%v after onset) ends within firedrill's TTR bounds %s ± one bucket (%s)", cluster, ttr.Interval(), slack)
	// The kubelet's own record, in whole seconds: within a second of the event.
	tr := readyTransition(t.Context(), t, api)
	assert.WithinDuration(t, readyAt, tr, 1500*time.Millisecond, "the new pod's Ready transition (%s) and the event's receipt (%s)", tr, readyAt)
}

// apiDrill is a drill of the stub's Deployment: 100 requests/s, each on a
// new connection, 99% must succeed.
func apiDrill(name, url string, sched faults.Schedule, budget drills.Budget) drills.Drill {
	return drills.Drill{
		Name:     name,
		Workload: load.HTTP(load.Constant(100), load.Target{URL: url, Client: freshConns()}, load.WithTimeout(250*time.Millisecond)),
		Steady:   slo.SuccessRatio(0.99),
		Faults:   sched,
		Budget:   budget,
		Limits:   drills.Limits{RecoverWithin: 90 * time.Second},
	}
}

// The twin of TestKubePodKill: the same deletion of a Deployment whose pods
// take 6 s to pass their readiness probe fails a 4 s TTR budget.
func TestKubePodKillSlowStartFailsTTRBudget(t *testing.T) {
	c := kube.Local(t)
	r, url := startAPI(t, c, "slow-start", apiOpts{readyDelay: 6})
	res, err := drills.Execute(t.Context(), apiDrill("k8s-pod-kill-slow-start", url,
		faults.At(time.Second, kfaults.DeletePod(r.Deployment("api"))), drills.Budget{TTR: 4 * time.Second}))
	require.NoError(t, err, res.FormatTimeline())
	assert.Equal(t, []string{"ttr"}, missedNames(res), res.FormatTimeline())
	assert.Greater(t, res.Measures.TTR.Lower, 6*time.Second, "the readiness delay is in the TTR: %s", res.Measures.TTR)
	t.Logf("broken twin: TTR %s, missed %v", res.Measures.TTR, missedNames(res))
}

// Node loss under the Deployment's only pod: the node's container killed
// (the kubelet and the pod die with it). The controller manager marks the
// node NotReady after its node-monitor-grace-period (20 s in make
// test-kube's cluster) and evicts the pod after its 5 s toleration; the
// ReplicaSet starts a new one on the other worker.
func TestKubeNodeLoss(t *testing.T) {
	c := kube.Local(t)
	r, url := startAPI(t, c, "node-loss", apiOpts{})
	api := r.Deployment("api")
	res := drills.Run(t, apiDrill("k8s-node-loss", url,
		faults.At(time.Second, kfaults.NodeKill(kfaults.NodeOf(api))), drills.Budget{TTR: 60 * time.Second}))
	require.True(t, res.Passed(), "%v", res.Missed())
	t.Logf("node loss: TTR %s %s, onset by %s", res.Measures.TTR, res.Measures.TTR.Interval(), res.Episodes[0].OnsetSource)
	pods, err := api.Pods(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, pods)
	assert.NotEmpty(t, res.Episodes[0].Fault, "the episode names its fault")
}

// Scaled to zero for 3 s, then back: restored after the revert, once a new
// pod is ready.
func TestKubeScaleToZero(t *testing.T) {
	c := kube.Local(t)
	r, url := startAPI(t, c, "scale", apiOpts{})
	api := r.Deployment("api")
	d := apiDrill("k8s-scale-to-zero", url,
		faults.For(time.Second, 3*time.Second, kfaults.ScaleToZero(api)), drills.Budget{TTR: 10 * time.Second})
	// The probes from the API: ready pods in the steady state, and the
	// Service without a ready endpoint as the detector (TTD).
	d.Steady = slo.All(d.Steady, slo.AtLeast(kube.ReadyPods(r.Pods("app=api")), 1))
	d.Detect = drills.DetectWhen(kube.ReadyEndpoints(r.Service("api")), func(v float64) bool { return v == 0 })
	res := drills.Run(t, d)
	require.True(t, res.Passed(), "%v", res.Missed())
	require.True(t, res.Measures.TTD.Valid, "the endpoints probe detected the outage")
	assert.Less(t, res.Measures.TTD.Value, res.Measures.TTR.Value)
	t.Logf("scale to zero: TTR %s, TTD %s by %s", res.Measures.TTR, res.Measures.TTD, res.Measures.TTD.Source)
	assert.Greater(t, res.Measures.TTR.Lower, 2500*time.Millisecond, "down until the revert: %s", res.Measures.TTR)
	n, err := api.Replicas(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "the revert scaled it back")
}

// The container killed through containerd: the kubelet restarts it in
// the same pod.
func TestKubeKillContainer(t *testing.T) {
	c := kube.Local(t)
	r, url := startAPI(t, c, "kill-container", apiOpts{})
	api := r.Deployment("api")
	before, err := api.Pods(t.Context())
	require.NoError(t, err)
	res := drills.Run(t, apiDrill("k8s-kill-container", url,
		faults.At(time.Second, kfaults.KillContainer(api, "")), drills.Budget{TTR: 10 * time.Second}))
	require.True(t, res.Passed(), "%v", res.Missed())
	after, err := api.Pods(t.Context())
	require.NoError(t, err)
	require.Len(t, after, 1)
	assert.Equal(t, before[0].UID, after[0].UID, "the same pod")
	assert.EqualValues(t, 1, after[0].Status.ContainerStatuses[0].RestartCount, "its container restarted once")
	t.Logf("kill container: TTR %s, onset %s", res.Measures.TTR, res.Episodes[0].OnsetSource)
}

// The node of the only pod drained for 5 s: the pod is evicted and
// recreated on the other worker; the revert uncordons the node.
func TestKubeDrain(t *testing.T) {
	c := kube.Local(t)
	r, url := startAPI(t, c, "drain", apiOpts{})
	pods, err := r.Deployment("api").Pods(t.Context())
	require.NoError(t, err)
	node := c.Node(pods[0].Spec.NodeName)
	res := drills.Run(t, apiDrill("k8s-drain", url,
		faults.For(time.Second, 5*time.Second, kfaults.Drain(node)), drills.Budget{TTR: 10 * time.Second}))
	require.True(t, res.Passed(), "%v", res.Missed())
	cordoned, err := node.Unschedulable(t.Context())
	require.NoError(t, err)
	assert.False(t, cordoned, "the revert uncordoned %s", node)
	after, err := r.Deployment("api").Pods(t.Context())
	require.NoError(t, err)
	assert.NotEqual(t, node.Name, after[len(after)-1].Spec.NodeName, "the new pod runs elsewhere")
}

// A release with a memory limit too low, rolled out with the Recreate
// strategy: the old pod goes, the new one cannot start; down until the
// revert rolls the old limits back.
func TestKubeLimits(t *testing.T) {
	c := kube.Local(t)
	r, url := startAPI(t, c, "limits", apiOpts{strategy: "Recreate"})
	api := r.Deployment("api")
	res := drills.Run(t, apiDrill("k8s-memory-limit", url,
		faults.For(time.Second, 5*time.Second, kfaults.Limits(api, "", "", "4Mi")), drills.Budget{TTR: 15 * time.Second}))
	require.True(t, res.Passed(), "%v", res.Missed())
	got, err := api.Resources(t.Context(), "")
	require.NoError(t, err)
	assert.Empty(t, got.Limits, "the revert put the resources back")
}

// The detector's twin: the endpoints probe of a Service the fault does not
// touch (toxiproxy's own) never fires: the drill fails "detected".
func TestKubeScaleToZeroDetectorThatNeverFires(t *testing.T) {
	c := kube.Local(t)
	r, url := startAPI(t, c, "scale-undetected", apiOpts{})
	d := apiDrill("k8s-scale-to-zero-undetected", url,
		faults.For(time.Second, 3*time.Second, kfaults.ScaleToZero(r.Deployment("api"))), drills.Budget{TTR: 10 * time.Second})
	d.Detect = drills.DetectWhen(kube.ReadyEndpoints(r.Service("firedrill-toxiproxy")), func(v float64) bool { return v == 0 })
	res, err := drills.Execute(t.Context(), d)
	require.NoError(t, err, res.FormatTimeline())
	assert.Equal(t, []string{"detected"}, missedNames(res), res.FormatTimeline())
}
