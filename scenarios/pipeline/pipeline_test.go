package pipeline

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills/load"
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

func TestIngestOptionsAreValidated(t *testing.T) {
	t.Parallel()
	p := &Pipeline{}
	for _, tc := range []struct {
		name string
		opts []IngestOption
		want string // "" when valid
	}{
		{"defaults", nil, ""},
		{"all set", []IngestOption{WithIDPrefix("x"), WithRequestTimeout(time.Second), WithPoison(func(uint64) bool { return true })}, ""},
		{"nil poison", []IngestOption{WithPoison(nil)}, ""},
		{"zero timeout", []IngestOption{WithRequestTimeout(0)}, "request timeout"},
		{"empty prefix", []IngestOption{WithIDPrefix("")}, "id prefix"},
		{"both wrong", []IngestOption{WithIDPrefix(""), WithRequestTimeout(-time.Second)}, "request timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := p.Ingest(load.Constant(1), tc.opts...).Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestIngestDefaultsAndOptions(t *testing.T) {
	t.Parallel()
	cfg, err := ingestOptions(3, nil)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("ev%d-3", os.Getpid()), cfg.prefix)
	assert.Equal(t, 2*time.Second, cfg.timeout)
	assert.Equal(t, "drill", cfg.source)
	cfg, err = ingestOptions(3, []IngestOption{WithIDPrefix("a"), WithIDPrefix("b"), WithRequestTimeout(time.Second)})
	require.NoError(t, err)
	assert.Equal(t, "b", cfg.prefix, "later options win")
	assert.Equal(t, time.Second, cfg.timeout)
}
