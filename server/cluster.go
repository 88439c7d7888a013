package server

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboardhq/switchboard/server/internal/natsengine"
)

// ClusterConfig makes the server one node of a cluster over NATS
// (docs/cluster.md): nodes connected to one NATS cluster serve the same
// sessions, and every publish is ordered and stored by JetStream.
type ClusterConfig struct {
	// NATSURLs are the NATS servers to connect to (comma-separated in
	// --nats-url). Empty with Embedded set: the embedded node.
	NATSURLs []string
	// Embedded runs a nats-server node (with JetStream) in this process.
	Embedded bool
	// EmbeddedListen is the embedded node's client address (default
	// 127.0.0.1 on a free port); EmbeddedName its server name (default
	// generated, must be unique in the cluster).
	EmbeddedListen, EmbeddedName string
	// ClusterName, ClusterListen and Routes join embedded nodes of several
	// processes into one NATS cluster (--nats-cluster, --nats-routes).
	ClusterName, ClusterListen string
	Routes                     []string
	// StoreDir is the embedded node's JetStream directory (default
	// DataDir/nats with --data-dir, else a temporary directory).
	StoreDir string

	// CredsFile, TLSCA, TLSCert, TLSKey: NATS credentials and TLS.
	CredsFile, TLSCA, TLSCert, TLSKey string

	// Prefix of the NATS subjects (default "switchboard"), Replicas of the
	// JetStream stream (default 1), History messages kept per topic
	// (default 100) for at most MaxAge (default 24 h).
	Prefix   string
	Replicas int
	History  int64
	MaxAge   time.Duration
	// StartTimeout bounds the wait for the NATS cluster at start (default
	// 60 s).
	StartTimeout time.Duration

	// BridgePrefix, when set, bridges sessions' topics to plain NATS
	// subjects <BridgePrefix>.<session>.<topic> both ways (docs/bridge.md):
	// NATS services can serve WebSocket sessions. Default: no bridge.
	BridgePrefix string
	// BridgeSessions are the sessions bridged: session ids, or the start of
	// one followed by '*'. Default every session.
	BridgeSessions []string
	// BridgeTopics are the topics bridged: patterns ("chat.>"). Default
	// every topic. Reserved ($) topics are never bridged.
	BridgeTopics []string
}

// bridge returns the bridge's configuration, nil without one.
func (cc *ClusterConfig) bridge(maxFrame int64) (*natsengine.BridgeConfig, error) {
	if cc.BridgePrefix == "" {
		if len(cc.BridgeSessions) > 0 || len(cc.BridgeTopics) > 0 {
			return nil, fmt.Errorf("%w: bridge sessions and topics need a bridge prefix", ErrConfig)
		}
		return nil, nil
	}
	bc := &natsengine.BridgeConfig{
		Prefix:     cc.BridgePrefix,
		Sessions:   cc.BridgeSessions,
		Topics:     cc.BridgeTopics,
		MaxPayload: int(maxFrame),
	}
	if err := bc.Validate(cc.Prefix); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return bc, nil
}

// startCluster connects the cluster engine; nil without a ClusterConfig.
func startCluster(cfg *Config) (*natsengine.Engine, error) {
	cc := cfg.Cluster
	if cc == nil {
		return nil, nil
	}
	if len(cc.NATSURLs) == 0 && !cc.Embedded {
		return nil, fmt.Errorf("%w: cluster mode needs NATS URLs or the embedded NATS server", ErrConfig)
	}
	bridge, err := cc.bridge(cfg.MaxFrameBytes)
	if err != nil {
		return nil, err
	}
	ec := natsengine.Config{
		URLs:         cc.NATSURLs,
		CredsFile:    cc.CredsFile,
		TLSCA:        cc.TLSCA,
		TLSCert:      cc.TLSCert,
		TLSKey:       cc.TLSKey,
		Prefix:       cc.Prefix,
		Replicas:     cc.Replicas,
		History:      cc.History,
		MaxAge:       cc.MaxAge,
		StartTimeout: cc.StartTimeout,
		FileStorage:  cfg.DataDir != "",
		Name:         "switchboard " + cfg.Version,
		Logger:       cfg.Logger.With("component", "nats"),
		Bridge:       bridge,
	}
	if cc.Embedded {
		store := cc.StoreDir
		if store == "" && cfg.DataDir != "" {
			store = cfg.DataDir + "/nats"
		}
		ec.Embedded = &natsengine.Embedded{
			ServerName:    cc.EmbeddedName,
			Listen:        cc.EmbeddedListen,
			ClusterName:   cc.ClusterName,
			ClusterListen: cc.ClusterListen,
			Routes:        cc.Routes,
			StoreDir:      store,
		}
	}
	return natsengine.New(context.Background(), ec)
}

// NATSURL returns the client URL of the embedded NATS node, or "" when
// there is none.
func (s *Server) NATSURL() string {
	if s.engine == nil {
		return ""
	}
	return s.engine.ClientURL()
}

func (s *Server) closeEngine() {
	if s.engine != nil {
		s.engine.Close()
	}
}
