// eStargz layers (docs/ESTARGZ.md): the writer, its options, the TOC and footer, and the reader of a blob's TOC.
export { estargzLayer, type EstargzLayer, type EstargzResult, type EstargzStats } from './writer.js';
export { resolveEstargzOptions, DEFAULT_CHUNK_SIZE, type EstargzOptions } from './options.js';
export { footer, parseFooter, FOOTER_SIZE, TOC_NAME, PREFETCH_LANDMARK, NO_PREFETCH_LANDMARK, type Toc, type TocEntry } from './toc.js';
export { ErrEstargzInvalid, ErrEstargzPrioritize } from './errors.js';
export { readToc, type TocSummary } from './reader.js';
export { estargzAnnotations } from './annotations.js';
