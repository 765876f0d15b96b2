package scenarios_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/firedrill/firedrill/scenarios"
)

func TestImageEnvVar(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{scenarios.ImageToxiproxy, "FIREDRILL_TOXIPROXY_IMAGE"},
		{scenarios.ImagePostgres, "FIREDRILL_POSTGRES_IMAGE"},
		{scenarios.ImageStub, "FIREDRILL_STUB_IMAGE"},
		{scenarios.ImagePipeline, "FIREDRILL_PIPELINE_IMAGE"},
		{"my-app.v2", "FIREDRILL_MY_APP_V2_IMAGE"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, scenarios.ImageEnvVar(tt.name), tt.name)
	}
}

func TestImage(t *testing.T) {
	tests := []struct {
		name, env, want string
	}{
		{name: scenarios.ImageToxiproxy, want: "firedrill/toxiproxy:local"},
		{name: scenarios.ImagePostgres, want: "firedrill/postgres:local"},
		{name: scenarios.ImageStub, want: "firedrill/stub:local"},
		{name: scenarios.ImagePipeline, want: "firedrill/pipeline:local"},
		{name: scenarios.ImagePostgres, env: "postgres:16", want: "postgres:16"},
		{name: scenarios.ImageStub, env: "registry.example/team/stub:1.2", want: "registry.example/team/stub:1.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.want, func(t *testing.T) {
			// Set (possibly to "") so an override in the caller's environment
			// does not leak into the default cases.
			t.Setenv(scenarios.ImageEnvVar(tt.name), tt.env)
			assert.Equal(t, tt.want, scenarios.Image(tt.name))
		})
	}
}

func TestImagesListsEveryImage(t *testing.T) {
	t.Parallel()
	want := []string{"toxiproxy", "postgres", "stub", "pipeline", "prometheus", "alertmanager"}
	want = append(want, "etcd")
	want = append(want, "nats")
	assert.Equal(t, want, scenarios.Images())
}
