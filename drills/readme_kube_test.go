package drills_test

// TestKubeWebPodKill is the README's "A pod-kill drill" on Kubernetes,
// verbatim but for the package name, so the README never teaches code
// that does not run. It needs firedrill's own cluster (make test-kube).

import (
	"testing"
	"time"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	kfaults "github.com/firedrill/firedrill/faults/kube"
	"github.com/firedrill/firedrill/scenarios/kube"
)

// Your manifests, as you deploy them (no namespace: the drill's own).
const readmeWeb = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: firedrill/stub:local
        imagePullPolicy: IfNotPresent
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

func TestKubeWebPodKill(t *testing.T) {
	c := kube.Local(t) // firedrill's own cluster (make cluster); kube.Connect for yours
	sys := kube.Start(t, c, kube.System{
		Name:      "web",
		Manifests: []string{readmeWeb},
		Images:    []string{"firedrill/stub:local"}, // copied from Docker into the nodes
		Links:     []kube.Link{{Name: "web", Service: "web", Port: 80, Host: true}},
	})
	res := drills.Run(t, drills.Drill{
		Name:     "web-pod-kill",
		Workload: load.HTTP(load.Constant(100), load.Target{URL: "http://" + sys.MustLink("web").HostAddr + "/"}),
		Steady:   slo.SuccessRatio(0.99),
		Faults:   faults.At(time.Second, kfaults.DeletePod(sys.Deployment("web"))),
		Budget:   drills.Budget{TTR: 20 * time.Second},
	})
	t.Logf("TTR %s", res.Measures.TTR) // e.g. "TTR 1.172s ± 33ms"
}
