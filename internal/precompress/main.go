// Command precompress writes FILE.gz (gzip, level 9) and FILE.br (brotli,
// quality 11, 16 MiB window) next to each FILE, for a server that serves
// static files pre-compressed with the right Content-Encoding instead of
// compressing them on every request, and prints the sizes:
//
//	go run ./internal/precompress assets/dist/switchboard.wasm
//
// The output is deterministic (no name or time in the gzip header), and
// each file is replaced atomically (written beside it, then renamed), so a
// server reading the directory never sees half a file.
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/andybalholm/brotli"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "precompress:", err)
		}
		os.Exit(2)
	}
}

// encoding is one pre-compressed variant.
type encoding struct {
	ext      string
	compress func(dst io.Writer, src []byte) error
}

var encodings = []encoding{
	{".gz", func(dst io.Writer, src []byte) error {
		w, err := gzip.NewWriterLevel(dst, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := w.Write(src); err != nil {
			return err
		}
		return w.Close()
	}},
	{".br", func(dst io.Writer, src []byte) error {
		// A 2^24-byte window (the most RFC 7932 allows, and browsers
		// accept) finds matches across the whole of a multi-MB wasm file.
		w := brotli.NewWriterOptions(dst, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
		if _, err := w.Write(src); err != nil {
			return err
		}
		return w.Close()
	}},
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("precompress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./internal/precompress FILE...")
		fmt.Fprintln(stderr, "Writes FILE.gz (gzip -9) and FILE.br (brotli quality 11) next to each FILE and prints the sizes.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return flag.ErrHelp
	}
	for _, name := range fs.Args() {
		src, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		// The variants of one file are compressed in parallel: brotli at
		// quality 11 takes seconds for a wasm binary.
		sizes := make([]int, len(encodings))
		errs := make([]error, len(encodings))
		var wg sync.WaitGroup
		for i, enc := range encodings {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf bytes.Buffer
				if errs[i] = enc.compress(&buf, src); errs[i] == nil {
					sizes[i] = buf.Len()
					errs[i] = writeAtomic(name+enc.ext, buf.Bytes())
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(stdout, "%s: %s raw, %s gzip (%.1f%%), %s brotli (%.1f%%)\n", name,
			size(len(src)), size(sizes[0]), percent(sizes[0], len(src)), size(sizes[1]), percent(sizes[1], len(src)))
	}
	return nil
}

// writeAtomic writes data to name through a temporary file in the same
// directory, renamed over name.
func writeAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// size formats n bytes, e.g. "1080245 B (1055 KiB)".
func size(n int) string { return fmt.Sprintf("%d B (%d KiB)", n, (n+512)/1024) }

func percent(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}
