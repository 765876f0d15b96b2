//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package reports

import (
	"errors"
	"runtime"
)

// lockFile is not available here: MergeFile needs flock(2).
func lockFile(string) (func(), error) {
	return nil, errors.New("file locks (flock) are not supported on " + runtime.GOOS)
}
