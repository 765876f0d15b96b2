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

// apiManifest is a Deployment of the stub (HTTP on 8080, /healthz) with
// replicas pods spread over the nodes, and its Service on port 80.
func apiManifest(replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: api, labels: {app: api}}
spec:
  replicas: %d
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
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
`, replicas, scenarios.Image(scenarios.ImageStub))
}

// startAPI starts the stub's Deployment on the cluster, with the link
// host->api through toxiproxy.
func startAPI(t *testing.T, c *kube.Cluster, name string, replicas int) (*kube.Running, string) {
	t.Helper()
	r := kube.Start(t, c, kube.System{
		Name:      name,
		Images:    []string{scenarios.Image(scenarios.ImageStub)},
		Manifests: []string{apiManifest(replicas)},
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
	r, url := startAPI(t, c, "pod-kill", 1)
	api := r.Deployment("api")
	ew := watchEndpoints(t, c, r.Namespace)

	res := drills.Run(t, drills.Drill{
		Name:     "k8s-pod-kill",
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

	var readyAt time.Time
	select {
	case readyAt = <-ew.readyAgain:
	case <-time.After(5 * time.Second):
		t.Fatal("no EndpointSlice event showed the Service ready again")
	}
	tl := res.Timeline
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
