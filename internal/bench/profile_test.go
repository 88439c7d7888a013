package bench

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/server"
)

// TestProfileServer is a harness, not a test: it runs when
// SWITCHBOARD_PROFILE_DIR is set. It serves a Switchboard server in this
// process under the CPU profiler and drives it with the load tool as a
// separate process, so that the profile holds the server's work only:
//
//	go build -o /tmp/sb ./cmd/switchboard
//	SWITCHBOARD_PROFILE_DIR=/tmp/prof SWITCHBOARD_BENCH_BIN=/tmp/sb \
//	SWITCHBOARD_BENCH_ARGS="fanout --subscribers 1000 --duration 10s" \
//	  go test -run TestProfileServer -count=1 -timeout 15m ./internal/bench/
//	go tool pprof -top /tmp/prof/cpu.pprof
//
// The load gets --url, --server-pid (this process) and --floor=false. The
// directory receives cpu.pprof, heap.pprof (at SWITCHBOARD_PROFILE_HEAP_AFTER,
// a duration after the load starts, else at its end), allocs.pprof and
// bench.out (the load tool's stdout).
func TestProfileServer(t *testing.T) {
	dir := os.Getenv("SWITCHBOARD_PROFILE_DIR")
	if dir == "" {
		t.Skip("SWITCHBOARD_PROFILE_DIR not set: the profiling harness does not run")
	}
	bin := os.Getenv("SWITCHBOARD_BENCH_BIN")
	if bin == "" {
		t.Fatal("SWITCHBOARD_BENCH_BIN: the path of a built switchboard binary")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := RaiseFileLimit(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()

	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		t.Fatal(err)
	}
	args := append(strings.Fields(os.Getenv("SWITCHBOARD_BENCH_ARGS")),
		"--url", "ws://"+ln.Addr().String()+"/ws", "--server-pid", strconv.Itoa(os.Getpid()), "--floor=false")
	args = append([]string{"bench"}, args...)
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	heapTaken := false
	if d, err := time.ParseDuration(os.Getenv("SWITCHBOARD_PROFILE_HEAP_AFTER")); err == nil {
		time.Sleep(d)
		writeProfile(t, "heap", filepath.Join(dir, "heap.pprof"))
		writeMemStats(t, filepath.Join(dir, "memstats.txt"))
		heapTaken = true
	}
	werr := cmd.Wait()
	pprof.StopCPUProfile()
	if !heapTaken {
		writeProfile(t, "heap", filepath.Join(dir, "heap.pprof"))
		writeMemStats(t, filepath.Join(dir, "memstats.txt"))
	}
	writeProfile(t, "allocs", filepath.Join(dir, "allocs.pprof"))
	if err := os.WriteFile(filepath.Join(dir, "bench.out"), out.Bytes(), 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("load tool output:\n%s", out.String())
	if werr != nil && !errors.Is(werr, context.Canceled) {
		t.Fatalf("load tool: %v", werr)
	}
}

func writeProfile(t *testing.T, name, path string) {
	t.Helper()
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		t.Error(err)
	}
}

// writeMemStats records where the process's memory is (runtime/metrics):
// goroutine stacks are not in the heap profile.
func writeMemStats(t *testing.T, path string) {
	t.Helper()
	samples := []metrics.Sample{
		{Name: "/sched/goroutines:goroutines"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/total:bytes"},
	}
	metrics.Read(samples)
	var b strings.Builder
	for _, s := range samples {
		b.WriteString(s.Name + " " + strconv.FormatUint(s.Value.Uint64(), 10) + "\n")
	}
	if p, err := ReadProc(os.Getpid()); err == nil {
		b.WriteString("VmRSS " + strconv.FormatInt(p.RSS, 10) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}
