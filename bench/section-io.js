// How a section script (dir-layers.js, zstd.js, streams.js, push.js, image.js) talks to run.js, which
// runs each in a child process: with --json the last line of stdout is the section's result; exit
// status 3 means "skipped" (a tool or the addon is missing here), the reason on stderr's last line;
// any other non-zero status is a failure (a crash, a digest that does not check out).
export const SKIP_STATUS = 3;
export const jsonWanted = process.argv.includes('--json');

/** Prints the section's result as the last stdout line when run.js asked for it. */
export function emit(result) {
  if (jsonWanted) process.stdout.write(JSON.stringify(result) + '\n');
}

/** Ends the process as skipped: something this section needs is not on this machine. */
export function skip(reason) {
  process.stderr.write(`SKIP: ${reason}\n`);
  process.exit(SKIP_STATUS);
}

/** True when err says the native engine (or one of its codecs) is not available here. */
export const isUnavailable = (err) => err?.code === 'ERR_ENGINE_UNAVAILABLE';
