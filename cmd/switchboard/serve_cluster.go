package main

import (
	"flag"
	"strings"

	"github.com/switchboardhq/switchboard/server"
)

// natsFlags are serve's multi-node settings (docs/cluster.md).
type natsFlags struct {
	urls, routes, cluster, clusterName, listen, name string
	embedded                                         bool
	creds, tlsCA, tlsCert, tlsKey, prefix            string
	replicas                                         int
	history                                          int64
	bridgePrefix, bridgeSessions, bridgeTopics       string
}

func (f *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.urls, "nats-url", "", "run as a cluster node over these NATS servers (comma-separated nats:// URLs; user:password@ or a token in the URL)")
	fs.BoolVar(&f.embedded, "nats-embedded", false, "run as a cluster node with a NATS server (JetStream) embedded in this process")
	fs.StringVar(&f.listen, "nats-listen", "", "client address of the embedded NATS server, host:port (default 127.0.0.1, a free port)")
	fs.StringVar(&f.name, "nats-name", "", "server name of the embedded NATS server, unique in the cluster (default generated)")
	fs.StringVar(&f.cluster, "nats-cluster", "", "cluster address of the embedded NATS server, host:port or nats://host:port: joins the nodes given in --nats-routes")
	fs.StringVar(&f.clusterName, "nats-cluster-name", "switchboard", "NATS cluster name of the embedded server")
	fs.StringVar(&f.routes, "nats-routes", "", "comma-separated cluster addresses (nats-route://host:port) of the other embedded NATS servers")
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials file (.creds: user JWT and NKey seed)")
	fs.StringVar(&f.tlsCA, "nats-tls-ca", "", "CA certificate file to verify the NATS servers")
	fs.StringVar(&f.tlsCert, "nats-tls-cert", "", "client certificate file for NATS")
	fs.StringVar(&f.tlsKey, "nats-tls-key", "", "client key file for NATS")
	fs.StringVar(&f.prefix, "nats-prefix", "switchboard", "prefix of Switchboard's NATS subjects and JetStream stream name")
	fs.IntVar(&f.replicas, "nats-replicas", 1, "JetStream replicas of the message stream (3 in a three-node cluster survives losing a node)")
	fs.Int64Var(&f.history, "nats-history", 100, "messages kept per (session, topic) in JetStream for recovery")
	fs.StringVar(&f.bridgePrefix, "bridge-prefix", "", "bridge sessions' topics to the NATS subjects <prefix>.<session>.<topic>, both ways, so that NATS services can serve them (docs/bridge.md; default no bridge)")
	fs.StringVar(&f.bridgeSessions, "bridge-sessions", "", "comma-separated sessions to bridge: session ids, or the start of one followed by * (default every session)")
	fs.StringVar(&f.bridgeTopics, "bridge-topics", "", "comma-separated topic patterns to bridge, e.g. chat.>,svc.* (default every topic; $ topics never)")
}

// config returns the cluster configuration, nil when no NATS flag is set.
func (f *natsFlags) config() (*server.ClusterConfig, error) {
	if f.urls == "" && !f.embedded {
		if f.cluster != "" || f.routes != "" || f.listen != "" {
			return nil, usageError{"--nats-cluster, --nats-routes and --nats-listen need --nats-embedded"}
		}
		if f.bridgePrefix != "" || f.bridgeSessions != "" || f.bridgeTopics != "" {
			return nil, usageError{"--bridge-prefix, --bridge-sessions and --bridge-topics need --nats-url or --nats-embedded"}
		}
		return nil, nil
	}
	if f.bridgePrefix == "" && (f.bridgeSessions != "" || f.bridgeTopics != "") {
		return nil, usageError{"--bridge-sessions and --bridge-topics need --bridge-prefix"}
	}
	if f.urls != "" && f.embedded {
		return nil, usageError{"--nats-url and --nats-embedded exclude each other"}
	}
	if f.cluster == "" && f.routes != "" {
		return nil, usageError{"--nats-routes needs --nats-cluster (this node's cluster address)"}
	}
	return &server.ClusterConfig{
		NATSURLs:       splitList(f.urls),
		Embedded:       f.embedded,
		EmbeddedListen: f.listen,
		EmbeddedName:   f.name,
		ClusterName:    f.clusterName,
		ClusterListen:  strings.TrimPrefix(strings.TrimPrefix(f.cluster, "nats://"), "nats-route://"),
		Routes:         splitList(f.routes),
		CredsFile:      f.creds,
		TLSCA:          f.tlsCA,
		TLSCert:        f.tlsCert,
		TLSKey:         f.tlsKey,
		Prefix:         f.prefix,
		Replicas:       f.replicas,
		History:        f.history,
		BridgePrefix:   f.bridgePrefix,
		BridgeSessions: splitList(f.bridgeSessions),
		BridgeTopics:   splitList(f.bridgeTopics),
	}, nil
}
