#!/usr/bin/env bash
# cluster-node.sh is the init of one node container of scripts/cluster.sh
# (it runs under tini as /usr/local/bin/firedrill-node). It is bind-mounted
# read-only from the repository, like everything else the node runs:
#
#   /opt/firedrill/bin         the Kubernetes binaries (read-only)
#   /etc/firedrill             this node's configuration (read-only):
#                              node.env, pki/, *.kubeconfig, kubelet.yaml,
#                              kube-proxy.yaml, containerd.toml, cni/,
#                              sysctl/ (the values kubelet expects)
#   /var/lib/firedrill/images  image tarballs imported into containerd at start
#   /var/lib/containerd, /var/lib/kubelet, /var/lib/etcd, /var/log/firedrill
#                              host directories (ext4: containerd's overlayfs
#                              snapshotter cannot sit on Docker's
#                              fuse-overlayfs)
#
# Steps, in order: make the mounts kubelet and containerd need writable
# (/sys, the cgroup hierarchies of the node's private cgroup namespace,
# /dev/kmsg, a shared root mount); protect the host's kernel settings
# (/proc/sys/kernel and /proc/sys/vm read-only, the values kubelet checks
# bound over from /etc/firedrill/sysctl, so kubelet finds them set and the
# host keeps its own); keep the static routes to the other nodes' pod subnets
# current (every 2 s: a restarted node comes back with another address);
# start etcd, kube-apiserver, kube-controller-manager and kube-scheduler on
# the control-plane node (first: the API server's start is the longest
# step); then on every node containerd, the image imports, kubelet and
# kube-proxy. Each process is restarted when it exits; logs go to
# /var/log/firedrill/NAME.log.
set -euo pipefail

# shellcheck source=/dev/null
. /etc/firedrill/node.env # NODE_NAME NODE_ROLE POD_CIDR CLUSTER_CIDR SERVICE_CIDR PEERS
BIN=/opt/firedrill/bin
ETC=/etc/firedrill
LOG=/var/log/firedrill
export PATH="$BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
mkdir -p "$LOG"

say() { printf '%s firedrill-node: %s\n' "$(date -u +%H:%M:%S.%N | cut -c1-12)" "$*" | tee -a "$LOG/node.log"; }

# ---- mounts ----
mount -o remount,rw /sys
for d in /sys/fs/cgroup/*/; do
	[ -L "${d%/}" ] && continue
	mount -o remount,bind,rw "$d" 2>/dev/null || true
done
[ -e /dev/kmsg ] || mknod /dev/kmsg c 1 11
mount --make-rshared /
[ -s /etc/machine-id ] || tr -d - </proc/sys/kernel/random/uuid >/etc/machine-id

# ---- the host's kernel settings: read-only, kubelet's values bound over ----
for d in kernel vm; do
	mount --bind "/proc/sys/$d" "/proc/sys/$d"
	mount -o remount,bind,ro "/proc/sys/$d"
done
for f in "$ETC"/sysctl/*; do
	[ -e "$f" ] || continue
	target=/proc/sys/$(basename "$f" | tr . /)
	mount --bind "$f" "$target"
	mount -o remount,bind,ro "$target"
done

# ---- node network (this node's own namespace only) ----
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || say "net.bridge.bridge-nf-call-iptables not available (br_netfilter not loaded on the host)"
iptables -t nat -C POSTROUTING -s "$CLUSTER_CIDR" ! -d "$CLUSTER_CIDR" -j MASQUERADE 2>/dev/null ||
	iptables -t nat -A POSTROUTING -s "$CLUSTER_CIDR" ! -d "$CLUSTER_CIDR" -j MASQUERADE
NODE_IP=$(ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1]; exit }')
[ -n "$NODE_IP" ] || { say "no IPv4 address on eth0"; exit 1; }

# Pods reach the cluster and nothing else. Traffic from a pod to anything
# but another pod (kube-proxy has already turned a Service's address into a
# pod's) or the nodes' network is refused here, in the node: a connection
# to a ClusterIP that kube-proxy has not programmed yet (for about a second
# after a Service is created), or to any outside address, would otherwise
# leave through the host's default route. Seen: it reached the host's
# egress proxy, which answered 403, and a pooled connection kept that
# answer for a whole drill.
NODE_NET=$(ip -4 route show dev eth0 scope link | awk '{ print $1; exit }')
[ -n "$NODE_NET" ] || { say "no link route on eth0"; exit 1; }
iptables -N FIREDRILL-EGRESS 2>/dev/null || iptables -F FIREDRILL-EGRESS
iptables -A FIREDRILL-EGRESS -d "$CLUSTER_CIDR" -j RETURN
iptables -A FIREDRILL-EGRESS -d "$NODE_NET" -j RETURN
iptables -A FIREDRILL-EGRESS -j REJECT
iptables -C FORWARD -s "$CLUSTER_CIDR" -j FIREDRILL-EGRESS 2>/dev/null ||
	iptables -I FORWARD 1 -s "$CLUSTER_CIDR" -j FIREDRILL-EGRESS

# tini -g delivers docker stop's SIGTERM to every process of this group.
trap 'say stopping; exit 0' TERM INT

# run NAME CMD... keeps CMD running (restarted 1 s after it exits).
run() {
	local name=$1
	shift
	(
		while :; do
			"$@" >>"$LOG/$name.log" 2>&1 && rc=0 || rc=$?
			say "$name exited ($rc), restarting in 1 s"
			sleep 1
		done
	) &
}

routes() {
	local peer name cidr ip
	while :; do
		for peer in $PEERS; do
			name=${peer%%=*} cidr=${peer#*=}
			ip=$(getent hosts "$name" | awk '{ print $1; exit }') || true
			[ -z "$ip" ] || ip route replace "$cidr" via "$ip" 2>/dev/null || true
		done
		sleep 2
	done
}
routes &

say "node $NODE_NAME ($NODE_ROLE) ip $NODE_IP pod subnet $POD_CIDR"

# ---- control plane ----
if [ "$NODE_ROLE" = control-plane ]; then
	PKI=$ETC/pki
	run etcd etcd --name "$NODE_NAME" --data-dir /var/lib/etcd \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster "$NODE_NAME=http://127.0.0.1:2380" --logger zap
	run kube-apiserver kube-apiserver \
		--etcd-servers=http://127.0.0.1:2379 \
		--advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port=6443 \
		--client-ca-file="$PKI/ca.crt" \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types=InternalIP \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
		--allow-privileged=true --profiling=false
	run kube-controller-manager kube-controller-manager \
		--kubeconfig="$ETC/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false \
		--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
		--use-service-account-credentials=true \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
		--cluster-cidr="$CLUSTER_CIDR" --service-cluster-ip-range="$SERVICE_CIDR" \
		${NODE_MONITOR_GRACE_PERIOD:+--node-monitor-grace-period="$NODE_MONITOR_GRACE_PERIOD"} \
		--profiling=false
	run kube-scheduler kube-scheduler \
		--kubeconfig="$ETC/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false --profiling=false
	say "control plane started"
fi

# ---- containerd ----
run containerd containerd --config "$ETC/containerd.toml"
for _ in $(seq 1 300); do
	ctr version >/dev/null 2>&1 && break
	sleep 0.1
done
ctr version >/dev/null 2>&1 || { say "containerd did not answer within 30 s (see $LOG/containerd.log)"; exit 1; }
say "containerd answers"
for t in /var/lib/firedrill/images/*.tar; do
	[ -e "$t" ] || continue
	ctr -n k8s.io images import "$t" >>"$LOG/images.log" 2>&1 || say "import $t failed (see $LOG/images.log)"
done
say "images imported"

# ---- every node ----
# The control plane's node is tainted as in any cluster: workloads go to
# the workers, which node faults may take away; only what tolerates the
# taint (the drills' toxiproxy pods) runs beside the API server.
taints=()
[ "$NODE_ROLE" = control-plane ] && taints=(--register-with-taints=node-role.kubernetes.io/control-plane=:NoSchedule)
run kubelet kubelet --config="$ETC/kubelet.yaml" --kubeconfig="$ETC/kubelet.kubeconfig" \
	--hostname-override="$NODE_NAME" --node-ip="$NODE_IP" "${taints[@]}"
# --v=2 logs each rules sync ("Syncing iptables rules", "SyncProxyRules
# complete"): when a Service change reached the data path, which drills
# compare with what their load saw.
run kube-proxy kube-proxy --config="$ETC/kube-proxy.yaml" --v=2
say "kubelet and kube-proxy started"

wait
