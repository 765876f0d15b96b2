package drills_test

import (
	"testing"

	"github.com/firedrill/firedrill/drills"
)

// TestMain writes the report of every drill when FIREDRILL_REPORT_DIR is set.
func TestMain(m *testing.M) { drills.Main(m) }
