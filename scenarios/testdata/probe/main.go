// Command probe is a test program for the ContainerSpec integration tests
// (spec_integration_test.go): an HTTP server that reports who it runs as
// and reads and writes files, and the healthcheck commands those tests
// declare. Built static and copied into a FROM scratch image by the tests.
//
//	probe [-addr :8080]     serve
//	probe health URL        GET URL: exit 0 on 2xx, else print why, exit 1
//	probe fail MESSAGE...   print MESSAGE, exit 1
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "health":
			os.Exit(health(os.Args[2]))
		case "fail":
			fmt.Println(strings.Join(os.Args[2:], " "))
			os.Exit(1)
		}
	}
	addr := flag.String("addr", ":8080", "listen address")
	flag.String("tag", "", "ignored: shows in /whoami")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "uid=%d gid=%d args=%q", os.Getuid(), os.Getgid(), os.Args)
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("PUT /file", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := os.WriteFile(r.URL.Query().Get("path"), b, 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "written")
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Println("probe: listening on", *addr)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Println("probe:", err)
		os.Exit(1)
	}
}

func health(url string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Println("probe health:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Println("probe health:", resp.Status)
		return 1
	}
	fmt.Println("probe health: ok")
	return 0
}
