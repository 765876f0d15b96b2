package plant_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
)

func TestParse(t *testing.T) {
	t.Parallel()
	none, err := plant.Parse("")
	require.NoError(t, err)
	assert.Empty(t, none.List())
	s, err := plant.Parse(" ack-before-commit, split-checkpoint,ack-before-commit")
	require.NoError(t, err)
	assert.True(t, s.Has(plant.AckBeforeCommit))
	assert.True(t, s.Has(plant.SplitCheckpoint))
	assert.False(t, s.Has(plant.WipeKeepsCheckpoint))
	assert.Equal(t, "ack-before-commit,split-checkpoint", s.String())
	_, err = plant.Parse("ack-before-commit,nope")
	require.ErrorContains(t, err, `unknown planted defect "nope"`)
	for _, d := range plant.All {
		got, err := plant.Parse(string(d))
		require.NoError(t, err)
		assert.True(t, got.Has(d))
	}
}
