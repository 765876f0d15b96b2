package recovery_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/recovery"
)

func TestRunbookRunsInOrderAndTimesEachStep(t *testing.T) {
	var order []string
	step := func(name string) *recovery.Action {
		return recovery.Func(name, func(context.Context) (string, error) {
			order = append(order, name)
			return name + " done", nil
		})
	}
	var seen []recovery.Result
	res, err := recovery.Steps(step("a"), step("b")).Run(t.Context(), func(r recovery.Result) { seen = append(seen, r) })
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, order)
	require.Len(t, res, 2)
	assert.Equal(t, res, seen)
	for _, r := range res {
		assert.False(t, r.Start.IsZero())
		assert.False(t, r.End.Before(r.Start))
		assert.Equal(t, r.End.Sub(r.Start), r.Duration)
		assert.Equal(t, r.Name+" done", r.Output)
	}
}

func TestRunbookStopsAtFirstFailureAndSkipsTheRest(t *testing.T) {
	ran := false
	rb := recovery.Steps(
		recovery.Func("ok", func(context.Context) (string, error) { return "", nil }),
		recovery.Func("resume", func(context.Context) (string, error) { return "checkpoint missing\n", errors.New("exit 3") }),
		recovery.Func("verify", func(context.Context) (string, error) { ran = true; return "", nil }),
	)
	res, err := rb.Run(t.Context(), nil)
	require.Error(t, err)
	assert.False(t, ran)
	require.Len(t, res, 3)
	assert.Equal(t, "exit 3", res[1].Err)
	assert.True(t, res[2].Skipped)
	assert.Contains(t, res[2].SkipReason, "step 2 (resume) failed")
	assert.Contains(t, err.Error(), "recovery step 2 (resume)")
	assert.Contains(t, err.Error(), "checkpoint missing")
	var se *recovery.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "resume", se.Step)
}

func TestStepTimeout(t *testing.T) {
	slow := recovery.Func("slow", func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}).WithTimeout(20 * time.Millisecond)
	start := time.Now()
	_, err := recovery.Steps(slow).Run(t.Context(), nil)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Contains(t, err.Error(), "timed out after 20ms")
}

func TestCancelledRunbookSkipsWithReason(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := recovery.Steps(recovery.Func("a", func(context.Context) (string, error) { return "", nil })).Run(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, res, 1)
	assert.True(t, res[0].Skipped)
	assert.Contains(t, res[0].SkipReason, "cancelled")
}

func TestCommand(t *testing.T) {
	res, err := recovery.Steps(recovery.Command("sh", "-c", "echo hello")).Run(t.Context(), nil)
	require.NoError(t, err)
	assert.Equal(t, "hello\n", res[0].Output)

	res, err = recovery.Steps(recovery.Command("sh", "-c", "echo broken >&2; exit 4")).Run(t.Context(), nil)
	require.Error(t, err)
	assert.Contains(t, res[0].Output, "broken")
	assert.Contains(t, err.Error(), "exit status 4")
}

func TestExec(t *testing.T) {
	ex := newMockExecer(t)
	ex.EXPECT().Exec(mock.Anything, []string{"pipelinectl", "resume"}).Return(0, "resumed", nil).Once()
	res, err := recovery.Steps(recovery.Exec(ex, "pipelinectl", "resume")).Run(t.Context(), nil)
	require.NoError(t, err)
	assert.Equal(t, "resumed", res[0].Output)
	assert.Equal(t, "exec pipelinectl resume", res[0].Name)

	ex = newMockExecer(t)
	ex.EXPECT().Exec(mock.Anything, []string{"pipelinectl", "bogus"}).Return(2, "usage: ...", nil).Once()
	_, err = recovery.Steps(recovery.Exec(ex, "pipelinectl", "bogus")).Run(t.Context(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit code 2")
	assert.Contains(t, err.Error(), "usage: ...")

	ex = newMockExecer(t)
	ex.EXPECT().Exec(mock.Anything, mock.Anything).Return(-1, "", errors.New("container is not running")).Once()
	_, err = recovery.Steps(recovery.Exec(ex, "true")).Run(t.Context(), nil)
	require.ErrorContains(t, err, "exec true: container is not running")
}

func TestRunbookTakesAnyStep(t *testing.T) {
	st := newMockStep(t)
	st.EXPECT().Name().Return("custom")
	st.EXPECT().Run(mock.Anything).Return("done", nil).Once()
	res, err := recovery.Steps(st).Run(t.Context(), nil)
	require.NoError(t, err)
	assert.Equal(t, "custom", res[0].Name)
	assert.Equal(t, "done", res[0].Output)
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "nope", http.StatusConflict)
			return
		}
		_, _ = w.Write([]byte("resumed"))
	}))
	defer srv.Close()
	res, err := recovery.Steps(recovery.HTTP(http.MethodPost, srv.URL+"/resume", `{}`)).Run(t.Context(), nil)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(res[0].Output, "200 OK"))
	assert.Contains(t, res[0].Output, "resumed")

	_, err = recovery.Steps(recovery.HTTP(http.MethodPost, srv.URL+"/bad", "")).Run(t.Context(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "409")
}

func TestFuncPanicIsAFailure(t *testing.T) {
	_, err := recovery.Steps(recovery.Func("boom", func(context.Context) (string, error) { panic("x") })).Run(t.Context(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "panicked")
}

func TestDuration(t *testing.T) {
	t0 := time.Unix(100, 0)
	d := recovery.Duration([]recovery.Result{
		{Start: t0, End: t0.Add(time.Second)},
		{Start: t0.Add(time.Second), End: t0.Add(3 * time.Second)},
		{Skipped: true, Start: t0.Add(9 * time.Second), End: t0.Add(9 * time.Second)},
	})
	assert.Equal(t, 3*time.Second, d)
}
