#!/usr/bin/perl
# toxiproxy-dial.pl IN OUT: firedrill's one change to toxiproxy's proxy.go
# (github.com/Shopify/toxiproxy/v2, applied by scripts/images.sh through
# `go build -overlay`, so firedrill's go.mod is untouched).
#
# toxiproxy dials each client's upstream inside its accept loop, with no
# timeout: while one dial hangs (an upstream address that vanished, such as
# a killed container's or a deleted pod's that a Service still routes to
# for a second), the proxy accepts nobody else, for up to the kernel's
# connect timeout (about 2 min). A drill through it then measures the
# proxy's stall, not the system's recovery. The change dials each client's
# upstream in a goroutine of its own; the accept loop waits for pending
# dials (cancelled when the proxy stops) before it returns, so stopping a
# proxy still closes every connection.
use strict;
use warnings;
my ($in, $out) = @ARGV;
open(my $fh, '<', $in) or die "read $in: $!";
local $/;
my $src = <$fh>;
close $fh;
my $n = 0;
$n += $src =~ s/\nimport \(\n\t"errors"\n/\nimport (\n\t"context"\n\t"errors"\n/;
$n += $src =~ s/(\tacceptTomb := &tomb.Tomb\{\}\n\tdefer acceptTomb.Done\(\)\n)/$1\n\t\/\/ firedrill: pending dials finish (or are cancelled) before the loop returns.\n\tvar dialing sync.WaitGroup\n\tdefer dialing.Wait()\n\tdialCtx, cancelDial := context.WithCancel(context.Background())\n\tdefer cancelDial()\n\tgo func() { <-acceptTomb.Dying(); cancelDial() }()\n/;
$n += $src =~ s/\t\tupstream, err := net.Dial\("tcp", proxy.Upstream\)\n(.*?)\t\t\tcontinue\n\t\t\}\n(.*?\t\tproxy.Toxics.StartLink\(proxy.apiServer, name\+"downstream", upstream, client, stream.Downstream\)\n)/\t\t\/\/ firedrill: each client's upstream is dialled on its own.\n\t\tdialing.Add(1)\n\t\tgo func(client net.Conn) {\n\t\tdefer dialing.Done()\n\t\tupstream, err := (&net.Dialer{}).DialContext(dialCtx, "tcp", proxy.Upstream)\n$1\t\t\treturn\n\t\t}\n\t\tselect {\n\t\tcase <-acceptTomb.Dying():\n\t\t\tupstream.Close()\n\t\t\tclient.Close()\n\t\t\treturn\n\t\tdefault:\n\t\t}\n$2\t\t}(client)\n/s;
$n == 3 or die "toxiproxy-dial.pl: $in does not have the expected accept loop ($n of 3 changes applied): check the patch against this toxiproxy version\n";
open($fh, '>', $out) or die "write $out: $!";
print $fh $src;
close $fh;
