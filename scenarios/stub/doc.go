// Package stub holds a tiny HTTP service used by firedrill's own tests and
// calibration drills. The program lives in cmd/stub and is built into the
// image firedrill/stub by scripts/images.sh.
//
// Endpoints:
//
//	GET  /          200 "ok"
//	GET  /healthz   200 "ok"
//	POST /write?id=X records X (a set: writing X twice keeps one X), replies 200 with X
//	GET  /ids       the recorded ids, one per line, in the order first written
package stub
