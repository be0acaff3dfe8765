// Command webserver stands in for the nginx image of the seeds on the local
// cluster's real nodes, where nothing can be pulled: `make images` tags it
// with the names the seeds use (nginx, nginx:alpine). Run with no arguments it
// serves HTTP on :80 like a freshly installed web server (a welcome page on
// GET and HEAD of any path, the pod's name and address in headers); `webserver
// get URL` is a tiny client for `kubectl exec`, printing the body and failing
// on an error or a status other than 2xx. It imports only the standard
// library.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 1:
		err = serve(":80")
	case len(os.Args) == 3 && os.Args[1] == "serve":
		err = serve(os.Args[2])
	case len(os.Args) == 3 && os.Args[1] == "get":
		err = get(os.Args[2], os.Stdout)
	default:
		err = errors.New("usage: webserver [serve ADDR | get URL]")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webserver:", err)
		os.Exit(1)
	}
}

const page = `<!DOCTYPE html>
<html>
<head><title>Welcome</title></head>
<body>
<h1>Welcome!</h1>
<p>If you see this page, the web server is successfully installed and working.</p>
</body>
</html>
`

func serve(addr string) error {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "405 Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Server", "webserver")
		w.Header().Set("X-Pod-Name", host)
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			w.Header().Set("X-Server-Address", a.String())
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, page)
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func get(url string, out io.Writer) error {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
