// Text from outside (a registry's config and error messages, file names, archive annotations) is
// printed for people on a terminal: a control character in it could move the cursor, rewrite the
// title, forge a line of output (`\r`, `\n`) or reorder what is shown (bidi overrides). Every
// human-readable line that can hold such text goes through escapeControls once, just before it is
// written; JSON output does not (JSON.stringify escapes C0 already, and is for programs).

/**
 * C0 controls (U+0000-U+001F, ESC, CR, LF and TAB included), DEL, C1 controls (U+0080-U+009F), line
 * and paragraph separators, bidi marks, embeddings, overrides and isolates, zero-width and other
 * invisible format characters, and lone surrogates (not text at all).
 */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function visible(ch: string): string {
  const code = ch.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * `text` with every unsafe character replaced by a visible escape: `\x1b` for ESC, `\x0a` for a
 * newline, `\u{202e}` for RIGHT-TO-LEFT OVERRIDE. Backslashes are left as they are (a path on
 * Windows stays readable), so the escaping shows what was there but is not meant to be undone.
 */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, visible);
}

/** One line for the terminal: the body escaped, its own final newline (if any) kept. */
export function escapeLine(line: string): string {
  return line.endsWith('\n') ? `${escapeControls(line.slice(0, -1))}\n` : escapeControls(line);
}

/** Lines this program joined with newlines: each escaped, the joining newlines kept. */
export function escapeLines(text: string): string {
  return text.split('\n').map(escapeControls).join('\n');
}
