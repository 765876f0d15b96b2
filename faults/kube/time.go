package kube

import "time"

// now is the wall clock with its monotonic reading, as the Injector's.
var now = time.Now
