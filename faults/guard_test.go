package faults_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

// Guard reverts what is in effect when the test ends.
func TestGuardRevertsAtCleanup(t *testing.T) {
	rs, log := newRecorders("a", "b")
	inj := faults.NewInjector()
	t.Run("inner", func(t *testing.T) {
		inj.Guard(t)
		for _, r := range rs {
			_, err := inj.Inject(ctx, r)
			require.NoError(t, err)
		}
	})
	assert.Equal(t, []string{"inject a", "inject b", "revert b", "revert a"}, *log)
	assert.Empty(t, inj.Active())
}

func TestEach(t *testing.T) {
	pool := faults.Each([]string{"x", "y"},
		func(s string) faults.Fault { return named("kill " + s) },
		func(s string) faults.Fault { return named("pause " + s) })
	var names []string
	for _, f := range pool {
		names = append(names, f.Name())
	}
	assert.Equal(t, []string{"kill x", "kill y", "pause x", "pause y"}, names)
}
