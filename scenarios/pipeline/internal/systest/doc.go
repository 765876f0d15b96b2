// Package systest runs the pipeline in containers through the scenarios
// runtime, wired as CONTRACT.md describes (three PostgreSQL connections
// through toxiproxy links), to check the contract end to end. It holds only
// tests; the scenario API itself is scenarios/pipeline.
package systest
