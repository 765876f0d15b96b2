// Command faultee is the target of the faults package's integration tests:
// a tiny HTTP service that can allocate memory and write files on demand,
// so that OOM and disk-full faults can be observed from outside. The tests
// build it into a FROM scratch image (firedrill/faultee:test).
//
//	faultee [-addr :8080]   serve:
//	    GET  /, /healthz          200 "ok"
//	    POST /alloc?mb=N          allocate and touch N MiB, kept until exit
//	    POST /write?path=P&kb=N   write N KiB to P (507 + the error on failure)
//	    POST /rm?path=P           remove P
//	    GET  /beat?every=D        stream this process's clock, one line of
//	                              Unix nanoseconds every D (default 200µs),
//	                              until the client goes away: the last line
//	                              a client reads is an instant it was alive
//	faultee fill PATH           write zeros to PATH until the disk is full;
//	                            exit 0 on ENOSPC, 1 otherwise
//	faultee rm PATH             remove PATH (missing is fine)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 {
		switch os.Args[1] {
		case "fill":
			os.Exit(fill(os.Args[2]))
		case "rm":
			if err := os.Remove(os.Args[2]); err != nil && !errors.Is(err, os.ErrNotExist) {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			return
		}
	}
	addr := flag.String("addr", ":8080", "listen address")
	flag.Parse()
	var (
		mu   sync.Mutex
		held [][]byte
	)
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }
	mux.HandleFunc("GET /{$}", ok)
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /beat", beat)
	mux.HandleFunc("POST /alloc", func(w http.ResponseWriter, r *http.Request) {
		mb, err := strconv.Atoi(r.URL.Query().Get("mb"))
		if err != nil || mb <= 0 {
			http.Error(w, "mb must be a positive integer", http.StatusBadRequest)
			return
		}
		b := make([]byte, mb<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		mu.Lock()
		held = append(held, b)
		mu.Unlock()
		fmt.Fprintf(w, "allocated %d MiB", mb)
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		kb, err := strconv.Atoi(r.URL.Query().Get("kb"))
		if err != nil || kb <= 0 {
			http.Error(w, "kb must be a positive integer", http.StatusBadRequest)
			return
		}
		if err := write(r.URL.Query().Get("path"), kb<<10); err != nil {
			http.Error(w, err.Error(), http.StatusInsufficientStorage)
			return
		}
		fmt.Fprint(w, "written")
	})
	mux.HandleFunc("POST /rm", func(w http.ResponseWriter, r *http.Request) {
		if err := os.Remove(r.URL.Query().Get("path")); err != nil && !errors.Is(err, os.ErrNotExist) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "removed")
	})
	mux.HandleFunc("GET /fetch", func(w http.ResponseWriter, r *http.Request) {
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		req, err := http.NewRequestWithContext(r.Context(), "GET", r.URL.Query().Get("url"), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := c.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "status %d", resp.StatusCode)
	})
	log.Printf("faultee: listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}

func write(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(make([]byte, n))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func fill(path string) int {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, syscall.ENOSPC) {
			return 0
		}
		return 1
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if errors.Is(err, syscall.ENOSPC) {
				return 0
			}
			return 1
		}
	}
}

// beat streams time.Now() in Unix nanoseconds, one line every ?every=
// (default 200µs), flushing each line. The container shares the host's
// clock, so a reader on the host learns an instant the process was alive.
func beat(w http.ResponseWriter, r *http.Request) {
	every := 200 * time.Microsecond
	if v := r.URL.Query().Get("every"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			http.Error(w, "every must be a positive duration", http.StatusBadRequest)
			return
		}
		every = d
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/plain")
	for r.Context().Err() == nil {
		if _, err := fmt.Fprintln(w, time.Now().UnixNano()); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		time.Sleep(every)
	}
}
