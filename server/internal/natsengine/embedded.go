package natsengine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startEmbedded runs the embedded nats-server node with JetStream.
func (e *Engine) startEmbedded() error {
	em := e.cfg.Embedded
	opts := &server.Options{
		ServerName: em.ServerName,
		JetStream:  true,
		StoreDir:   em.StoreDir,
		NoSigs:     true, // the Switchboard process handles signals
		NoLog:      true,
	}
	if opts.ServerName == "" {
		var b [6]byte
		rand.Read(b[:])
		opts.ServerName = "switchboard-" + hex.EncodeToString(b[:])
	}
	listen := em.Listen
	if listen == "" {
		listen = "127.0.0.1:-1"
	}
	var err error
	if opts.Host, opts.Port, err = hostPort(listen); err != nil {
		return fmt.Errorf("natsengine: embedded listen address: %w", err)
	}
	if em.ClusterListen != "" {
		opts.Cluster.Name = em.ClusterName
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "switchboard"
		}
		if opts.Cluster.Host, opts.Cluster.Port, err = hostPort(em.ClusterListen); err != nil {
			return fmt.Errorf("natsengine: embedded cluster address: %w", err)
		}
		for _, r := range em.Routes {
			opts.Routes = append(opts.Routes, server.RoutesFromStr(r)...)
		}
	}
	if opts.StoreDir == "" {
		if e.tmp, err = os.MkdirTemp("", "switchboard-nats-"); err != nil {
			return err
		}
		opts.StoreDir = e.tmp
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("natsengine: embedded server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return fmt.Errorf("natsengine: embedded server did not start")
	}
	e.ns = ns
	return nil
}

// hostPort splits host:port; port -1 means a free one.
func hostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < -1 || p > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return host, p, nil
}
