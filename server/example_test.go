package server_test

import (
	"context"
	"log"
	"net/http"
	"os/signal"
	"syscall"

	"github.com/switchboardhq/switchboard/server"
)

// A standalone server: serve until SIGINT or SIGTERM, then shut down
// gracefully.
func ExampleServer_Run() {
	srv, err := server.New(server.Config{Addr: ":8080", AllowedOrigins: []string{"app.example.com"}})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx, nil); err != nil {
		log.Fatal(err)
	}
}

// Mounted in a program's own HTTP server, with the operator API used from
// Go.
func ExampleServer_Handler() {
	srv, err := server.New(server.Config{AdminToken: "change-me"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/switchboard/", http.StripPrefix("/switchboard", srv.Handler()))
	go http.ListenAndServe(":8080", mux)

	// Later, from a backend handler: tell every client of a session.
	if _, _, err := srv.PublishToSession("user-session-123", "orders.created", []byte(`{"id":42}`), "billing"); err != nil {
		log.Print(err)
	}
}
