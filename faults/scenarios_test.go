package faults_test

import (
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// The scenario runtime's handles are valid fault targets.
var (
	_ faults.ContainerTarget = (*scenarios.Container)(nil)
	_ faults.NetworkTarget   = (*scenarios.Container)(nil)
	_ faults.ResourceTarget  = (*scenarios.Container)(nil)
	_ faults.OOMTarget       = (*scenarios.Container)(nil)
	_ faults.DiskTarget      = (*scenarios.Container)(nil)
	_ faults.Execer          = (*scenarios.Container)(nil)
	_ faults.LinkTarget      = (*scenarios.Link)(nil)
	_ faults.ToxicTarget     = (*scenarios.Link)(nil)
)
