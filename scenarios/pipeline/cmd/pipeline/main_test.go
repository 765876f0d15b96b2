package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "usage: pipeline"},
		{[]string{"nope"}, 2, "unknown subcommand"},
		{[]string{"help"}, 0, "usage: pipeline"},
		{[]string{"pipelinectl", "-h"}, 0, "usage: pipelinectl"},
		{[]string{"pipelinectl"}, 2, "missing command"},
		{[]string{"pipelinectl", "wipe"}, 2, "without --yes"},
		{[]string{"collector", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"loader", "-corrupt", "nope", "-lake", "x", "-warehouse", "y"}, 2, "unknown corrupt field"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		t.Setenv("LAKE_DSN", "")
		t.Setenv("WAREHOUSE_DSN", "w")
		code := run(tt.args, &out, &errb)
		assert.Equal(t, tt.code, code, "%v: %s", tt.args, errb.String())
		assert.Contains(t, out.String()+errb.String(), tt.out, "%v", tt.args)
	}
	var out, errb bytes.Buffer
	t.Setenv("LAKE_DSN", "")
	assert.Equal(t, 2, run([]string{"collector"}, &out, &errb))
	assert.Contains(t, errb.String(), "LAKE_DSN")
}
