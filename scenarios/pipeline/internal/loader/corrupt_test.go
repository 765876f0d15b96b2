package loader_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/loader"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/schema"
)

func TestCorrupter(t *testing.T) {
	t.Parallel()
	base := schema.Event{Amount: "12.5", UserID: "u1", Kind: "buy", TS: time.Unix(0, 0).UTC()}
	none, err := loader.Corrupter("")
	require.NoError(t, err)
	assert.Nil(t, none)
	for _, f := range loader.CorruptFields {
		c, err := loader.Corrupter(f)
		require.NoError(t, err, f)
		e := base
		c(&e)
		assert.NotEqual(t, base, e, "%s changes the event", f)
	}
	c, _ := loader.Corrupter("amount")
	e := base
	c(&e)
	assert.Equal(t, "1250.000000", e.Amount)
	_, err = loader.Corrupter("seq")
	require.ErrorContains(t, err, "unknown corrupt field")
	_, err = loader.New(nil, nil, loader.Config{Corrupt: "nope"})
	assert.Error(t, err)
}

func TestSetCorruptAtRunTime(t *testing.T) {
	t.Parallel()
	l, err := loader.New(nil, nil, loader.Config{})
	require.NoError(t, err)
	assert.Empty(t, l.Metrics().CorruptField)
	require.NoError(t, l.SetCorrupt("amount"))
	assert.Equal(t, "amount", l.Metrics().CorruptField)
	require.Error(t, l.SetCorrupt("bogus"))
	assert.Equal(t, "amount", l.Metrics().CorruptField, "a bad value changes nothing")
	require.NoError(t, l.SetCorrupt(""))
	assert.Empty(t, l.Metrics().CorruptField)
}
