package ctl_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/ctl"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
)

// Each pipelinectl defect against the healthy command, on the same data.

func TestIntegrationPlantedBackfillWholeLake(t *testing.T) {
	t.Parallel()
	s := newSys(t)
	s.startLoader("")
	s.seed(0, 600, 0)
	s.caughtUp()
	for _, tc := range []struct {
		name  string
		plant []string
		rows  float64
	}{
		{"healthy", nil, 100},
		{"planted", []string{"--plant", string(plant.BackfillWholeLake)}, 600},
	} {
		code, doc, _ := s.ctl(append([]string{"backfill", "--from", "101", "--to", "200"}, tc.plant...)...)
		require.Equal(t, ctl.ExitOK, code, tc.name)
		assert.InDelta(t, tc.rows, doc["rows"], 0, "%s: rows backfilled", tc.name)
	}
	d := s.diff(1)
	assert.True(t, d.Empty(), "a backfill is a repair, not a delivery: %s", d)
}

func TestIntegrationPlantedWipeKeepsCheckpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		plant   []string
		rebuilt bool
	}{
		{"healthy", nil, true},
		{"planted", []string{"--plant", string(plant.WipeKeepsCheckpoint)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSys(t)
			s.startLoader("")
			s.seed(0, 500, 0)
			s.caughtUp()
			code, _, _ := s.ctl(append([]string{"wipe", "--yes"}, tc.plant...)...)
			require.Equal(t, ctl.ExitOK, code)
			s.caughtUp()
			d := s.diff(1)
			if tc.rebuilt {
				assert.True(t, d.Empty(), d.String())
			} else {
				assert.Len(t, d.Missing, 500, "the loader never replays: the checkpoint stayed at the head")
			}
		})
	}
}

func TestIntegrationPlantedRequeueDropsQuarantine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		plant  []string
		events int
	}{
		{"healthy", nil, 500},
		{"planted", []string{"--plant", string(plant.RequeueDropsQuarantine)}, 500 - 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSys(t)
			s.startLoader("")
			s.seed(0, 500, 10) // every 10th quarantined by schema 1
			s.caughtUp()
			code, _, _ := s.ctl("schema", "--set", "2")
			require.Equal(t, ctl.ExitOK, code)
			code, doc, _ := s.ctl(append([]string{"requeue-quarantine"}, tc.plant...)...)
			require.Equal(t, ctl.ExitOK, code)
			assert.EqualValues(t, 50, doc["loaded"], "both report the quarantine as loaded")
			d := s.diff(2)
			assert.Equal(t, tc.events, d.Events)
			assert.Zero(t, d.Quarantined)
			if tc.events == 500 {
				assert.True(t, d.Empty(), d.String())
			} else {
				assert.Len(t, d.Missing, 50, "the dropped events are lost")
			}
		})
	}
}

func TestPlantFlagIsValidated(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		return map[string]string{"LAKE_DSN": "postgres://x@127.0.0.1:1/l", "WAREHOUSE_DSN": "postgres://x@127.0.0.1:1/w", plant.Env: "nope"}[k]
	}
	_, err := ctl.Parse([]string{"status"}, env)
	require.ErrorContains(t, err, "unknown planted defect")
}
