package reports_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/reports"
)

// TestSchemaDocExample checks that the example in SCHEMA.md is a valid run.
func TestSchemaDocExample(t *testing.T) {
	doc, err := os.ReadFile("SCHEMA.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, m, "SCHEMA.md has a json example")
	run, err := reports.Decode(m[1])
	require.NoError(t, err)
	assert.Equal(t, "loader-crash", run.Drills[0].Name)
	assert.InDelta(t, 3.2, run.Drills[0].Measures.TTR.Value.Seconds(), 1e-9)
}

// TestSchemaDocCoversModel checks that SCHEMA.md documents every JSON field
// of the model.
func TestSchemaDocCoversModel(t *testing.T) {
	doc, err := os.ReadFile("SCHEMA.md")
	require.NoError(t, err)
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || seen[ty] || ty.PkgPath() != reflect.TypeFor[reports.Run]().PkgPath() {
			return
		}
		seen[ty] = true
		for f := range ty.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			assert.Contains(t, string(doc), "`"+name+"`", "SCHEMA.md documents %s.%s (`%s`)", ty.Name(), f.Name, name)
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[reports.Run]())
}
