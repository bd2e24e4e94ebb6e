// Names of the measured pipelines, shared by the table, the chart and the README.
export const ENGINE_LABELS = {
  native: 'fastlayer native',
  native1: 'fastlayer native, 1 thread',
  stream: 'fastlayer native, any stream',
  js: 'fastlayer js',
  naive: 'naive Node pipeline',
  c: 'C baseline',
  cthreads: 'C baseline, same threads',
  pigz: 'pigz + sha256sum (2 passes)',
};

/** Order of the pipelines in the README's tables and lists. */
export const ENGINE_ORDER = ['native', 'native1', 'stream', 'js', 'naive', 'c', 'cthreads', 'pigz'];

export const ENGINE_NOTES = {
  native: '`new Layer(fs.createReadStream(file), { engine: \'native\' })`: ISA-L (levels 1-2) or zlib (3-9) in the addon; the layer adopts the untouched ReadStream and its worker reads the file itself; default threads (the CPUs, up to 4)',
  native1: 'the same with `threads: 1`: every unit compressed on the calling worker thread, as in the C baseline',
  stream: 'the same ReadStream behind an async generator, so that the layer sees just a stream of 64 KiB chunks, as from a tar generator or a socket',
  js: '`new Layer(fs.createReadStream(file), { engine: \'js\' })`: node:zlib and node:crypto',
  naive: '`fs.createReadStream` -> SHA-256 tap -> `zlib.createGzip` -> SHA-256 tap and byte count (what image builders do today)',
  c: "the addon's C++ core (`fastlayer::Pipeline`) on one thread in a small C++ program reading 1 MiB per `read()` into a page-aligned buffer, no Node: the single-threaded limit, which the issue's 90 % goal refers to",
  cthreads: 'the same C++ program with the pipeline on as many threads as the native row: the limit of the same core with helper threads',
  pigz: '`sha256sum FILE`, then `pigz` on all cores with its output hashed: two passes over the input',
};

export const levelLabel = (level) => (level === 'none' ? "'none'" : String(level));
