package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("switchboard precompress test \x00\x01\x02 "), 5000)
	name := filepath.Join(dir, "app.wasm")
	if err := os.WriteFile(name, want, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run([]string{name}, &out, &errOut); err != nil {
		t.Fatalf("run: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), "app.wasm: ") || !strings.Contains(out.String(), "brotli") {
		t.Errorf("output %q", out.String())
	}
	for _, tc := range []struct {
		ext  string
		open func(io.Reader) (io.Reader, error)
	}{
		{".gz", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{".br", func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
	} {
		data, err := os.ReadFile(name + tc.ext)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) >= len(want)/10 {
			t.Errorf("%s: %d bytes from %d: not compressed", tc.ext, len(data), len(want))
		}
		r, err := tc.open(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", tc.ext, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: round trip differs", tc.ext)
		}
	}
	// Deterministic: a second run writes the same bytes, and leaves no
	// temporary files behind.
	gz1, _ := os.ReadFile(name + ".gz")
	if err := run([]string{name}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	gz2, _ := os.ReadFile(name + ".gz")
	if !bytes.Equal(gz1, gz2) {
		t.Error("gzip output differs between runs")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want app.wasm and its .gz and .br", names)
	}
}

func TestRunErrors(t *testing.T) {
	if err := run(nil, io.Discard, io.Discard); err == nil {
		t.Error("no files: no error")
	}
	if err := run([]string{filepath.Join(t.TempDir(), "missing")}, io.Discard, io.Discard); err == nil {
		t.Error("missing file: no error")
	}
}
