// stargz-snapshotter's own estargz reader as a command (test/tools/estargz-verify.go: BLOB TOC_DIGEST
// -> `ok files=N chunks=M`, or a failure naming the file), built on Debian's packaged estargz library
// by test/helpers/go-tool.ts (the sysroot it shares with the snapshotter daemon of the lazy-pull test),
// once, then cached. Shared by the tests of blobs (test/estargz/) and images (test/image/).
import { goTool } from './go-tool.js';

/** The verifier's path, or why it cannot be had here (built on first call; a failing build throws). */
export function verifier(): { bin?: string; skip?: string } {
  return goTool('estargz-verify');
}
