// Offline eStargz verifier on stargz-snapshotter's own estargz package (Debian's
// golang-github-containerd-stargz-snapshotter-dev), built by test/helpers/go-tool.ts:
// estargz.Open (footer, TOC), VerifyTOC against the descriptor's TOC digest, then every regular
// file read back through the package's lazy reader, each chunk checked against its chunkDigest and
// each file against its digest. Prints "ok files=N chunks=M" or fails with the reason.
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/containerd/stargz-snapshotter/estargz"
	digest "github.com/opencontainers/go-digest"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "estargz-verify: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: estargz-verify BLOB TOC-DIGEST")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	st, err := f.Stat()
	if err != nil {
		fail("%v", err)
	}
	r, err := estargz.Open(io.NewSectionReader(f, 0, st.Size()))
	if err != nil {
		fail("open: %v", err)
	}
	want, err := digest.Parse(os.Args[2])
	if err != nil {
		fail("toc digest: %v", err)
	}
	v, err := r.VerifyTOC(want)
	if err != nil {
		fail("VerifyTOC: %v", err)
	}
	root, ok := r.Lookup("")
	if !ok {
		fail("no root entry")
	}
	files, chunks := 0, 0
	var walk func(dir string, e *estargz.TOCEntry)
	walk = func(dir string, e *estargz.TOCEntry) {
		e.ForeachChild(func(base string, c *estargz.TOCEntry) bool {
			name := path.Join(dir, base)
			switch c.Type {
			case "dir":
				walk(name, c)
			case "reg":
				files++
				chunks += verifyFile(r, v, name, c)
			}
			return true
		})
	}
	walk("", root)
	fmt.Printf("ok files=%d chunks=%d\n", files, chunks)
}

func verifyFile(r *estargz.Reader, v estargz.TOCEntryVerifier, name string, e *estargz.TOCEntry) int {
	sr, err := r.OpenFile(name)
	if err != nil {
		fail("%s: %v", name, err)
	}
	whole := sha256.New()
	n := 0
	for off := int64(0); off < e.Size; {
		ce, ok := r.ChunkEntryForOffset(name, off)
		if !ok {
			fail("%s: no chunk at %d", name, off)
		}
		cv, err := v.Verifier(ce)
		if err != nil {
			fail("%s: %v", name, err)
		}
		buf := make([]byte, ce.ChunkSize)
		if _, err := sr.ReadAt(buf, ce.ChunkOffset); err != nil && err != io.EOF {
			fail("%s: read chunk at %d: %v", name, ce.ChunkOffset, err)
		}
		cv.Write(buf)
		if !cv.Verified() {
			fail("%s: chunk at %d does not match its chunkDigest", name, ce.ChunkOffset)
		}
		whole.Write(buf)
		off = ce.ChunkOffset + ce.ChunkSize
		n++
	}
	if e.Size > 0 && e.Digest != digest.NewDigestFromBytes(digest.SHA256, whole.Sum(nil)).String() {
		fail("%s: content does not match its digest %s", name, e.Digest)
	}
	return n
}
