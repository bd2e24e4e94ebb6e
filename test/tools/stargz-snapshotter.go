// A minimal stargz-snapshotter daemon for test/estargz/lazy-pull.test.ts, on the upstream project's
// own libraries as Debian packages them (golang-github-containerd-stargz-snapshotter-dev): the FUSE
// filesystem (fs), the overlay-based snapshotter (snapshot) and containerd's gRPC snapshot service.
// Debian ships no daemon (the `stargz-snapshotter` package has ctr-remote only) and the packaged
// `service` library does not build without k8s cri-api, so this wires the same pieces the upstream
// service does, minus the CRI keychain and registry mirrors: registries are reached over HTTPS, or
// plain HTTP for localhost (all the test uses), without credentials.
//
// Usage: stargz-snapshotter -address SOCKET -root DIR -config FILE.toml
// The TOML file is the upstream daemon's fs configuration (noprefetch, no_background_fetch, ...).
// It serves until SIGINT/SIGTERM, then unmounts what it mounted.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/BurntSushi/toml"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/contrib/snapshotservice"
	"github.com/containerd/containerd/reference"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/containerd/containerd/snapshots/overlay/overlayutils"
	stargzfs "github.com/containerd/stargz-snapshotter/fs"
	fsconfig "github.com/containerd/stargz-snapshotter/fs/config"
	"github.com/containerd/stargz-snapshotter/fs/layer"
	"github.com/containerd/stargz-snapshotter/fs/source"
	"github.com/containerd/stargz-snapshotter/snapshot"
	"google.golang.org/grpc"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "stargz-snapshotter: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	address := flag.String("address", "", "unix socket to serve the snapshot API on")
	root := flag.String("root", "", "state directory (snapshots, FUSE cache)")
	configPath := flag.String("config", "", "TOML file with the fs configuration")
	flag.Parse()
	if *address == "" || *root == "" {
		fail("usage: stargz-snapshotter -address SOCKET -root DIR [-config FILE.toml]")
	}

	var cfg fsconfig.Config
	if *configPath != "" {
		if _, err := toml.DecodeFile(*configPath, &cfg); err != nil {
			fail("config %s: %v", *configPath, err)
		}
	}
	// The metrics would register process-wide Prometheus collectors nobody reads here.
	cfg.NoPrometheus = true

	snapshotRoot := filepath.Join(*root, "snapshotter")
	if err := os.MkdirAll(snapshotRoot, 0o700); err != nil {
		fail("%v", err)
	}
	// Whiteout directories are marked opaque with trusted.* xattrs unless overlayfs needs user.*
	// ones (rootless): the same choice the upstream service makes.
	opaque := layer.OverlayOpaqueTrusted
	if user, err := overlayutils.NeedsUserXAttr(snapshotRoot); err == nil && user {
		opaque = layer.OverlayOpaqueUser
	}
	// The fs package's own default hosts carry an http.Client without a Transport, on which its
	// blob fetcher panics (nil RoundTripper): give every host a client with one.
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	hosts := func(ref reference.Spec) ([]docker.RegistryHost, error) {
		return docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchLocalhost), docker.WithClient(client))(ref.Hostname())
	}
	fs, err := stargzfs.NewFilesystem(filepath.Join(*root, "stargz"), cfg,
		stargzfs.WithGetSources(source.FromDefaultLabels(hosts)), stargzfs.WithOverlayOpaqueType(opaque))
	if err != nil {
		fail("filesystem: %v", err)
	}
	ctx := context.Background()
	sn, err := snapshot.NewSnapshotter(ctx, snapshotRoot, fs, snapshot.AsynchronousRemove)
	if err != nil {
		fail("snapshotter: %v", err)
	}

	server := grpc.NewServer()
	snapshotsapi.RegisterSnapshotsServer(server, snapshotservice.FromSnapshotter(sn))
	if err := os.MkdirAll(filepath.Dir(*address), 0o700); err != nil {
		fail("%v", err)
	}
	_ = os.Remove(*address) // a socket left by a killed run
	listener, err := net.Listen("unix", *address)
	if err != nil {
		fail("listen %s: %v", *address, err)
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	fmt.Fprintf(os.Stderr, "stargz-snapshotter: serving on %s\n", *address)
	select {
	case s := <-signals:
		fmt.Fprintf(os.Stderr, "stargz-snapshotter: %v, stopping\n", s)
	case err := <-served:
		fmt.Fprintf(os.Stderr, "stargz-snapshotter: serve: %v\n", err)
	}
	server.Stop()
	// Close unmounts the FUSE layers and the snapshots' mounts so the test can remove its root.
	if err := sn.Close(); err != nil {
		fail("close: %v", err)
	}
}
