// tarDirectory's home since before src/tar/ was split by concern: kept so imports keep working.
export { tarDirectory } from './writer.js';
export type { TarOptions, MtimePolicy, ModeOverride, EntryKind } from './options.js';
export { entryHeader, type Entry, type EntryType } from './header.js';
