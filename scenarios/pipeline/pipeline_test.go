package pipeline

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

func TestSystemIsValid(t *testing.T) {
	require.NoError(t, System().Validate())
}

func TestSystemRoutesEveryDatabaseConnectionThroughALink(t *testing.T) {
	sys := System()
	links := map[string]bool{}
	for _, l := range sys.Links {
		links[l.Name] = true
	}
	for _, name := range []string{CollectorLake, LoaderLake, LoaderWarehouse} {
		assert.True(t, links[name], "link %s missing", name)
	}
	for _, c := range sys.Containers {
		for k, v := range c.Env {
			if k == "LAKE_DSN" || k == "WAREHOUSE_DSN" {
				assert.Contains(t, v, "${link:", "%s of %s must go through toxiproxy", k, c.Name)
			}
		}
	}
}

func TestPipelineFaultsValidate(t *testing.T) {
	p := &Pipeline{}
	for _, tc := range []struct {
		name  string
		fault faults.Fault
		ok    bool
	}{
		{"poison every 20", p.PoisonTraffic(20), true},
		{"poison every 0", p.PoisonTraffic(0), false},
		{"bad deploy amount", p.BadDeploy("amount"), true},
		{"bad deploy unknown field", p.BadDeploy("price"), false},
		{"lose warehouse", p.LoseWarehouse(), true},
		{"no pipeline", (*Pipeline)(nil).LoseWarehouse(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fault.(faults.Validator).Validate()
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestPoisonTrafficTogglesAndRecordsItsWindow(t *testing.T) {
	p := &Pipeline{}
	f := p.PoisonTraffic(5)
	_, _, ok := f.Bounds()
	assert.False(t, ok)
	require.NoError(t, f.Inject(context.Background()))
	assert.EqualValues(t, 5, p.poisonEvery.Load())
	require.NoError(t, f.Revert(context.Background()))
	require.NoError(t, f.Revert(context.Background()), "reverting twice is harmless")
	assert.Zero(t, p.poisonEvery.Load())
	since, until, ok := f.Bounds()
	require.True(t, ok)
	assert.False(t, until.Before(since))
}
