// .dockerignore matching with Docker's semantics, written after reading moby/patternmatcher (the
// matcher of the Docker CLI, BuildKit and buildah) and its `ignorefile` reader. Docker's results
// are the specification, quirks included, so that a tree gives the same layer here as its
// `docker build` context: matching is case-sensitive and byte-exact, `[!b]` is a class of '!' and
// 'b' (only `[^b]` negates), `x**b` is `x(.*/)?b`, `**foo` also matches `xfoo`, and a pattern
// is cleaned like a path (`foo/../bar` is `bar`).
//
// Docker turns each pattern into a Go regular expression; here the same expression is produced and
// then read as Go reads it (Go's `.` is not JavaScript's, `\d` `\s` `\w` are ASCII in Go,
// `[[:alpha:]]` is POSIX in Go only, ...) and run as Go runs it: an NFA in lockstep, in time linear
// in the path's length whatever the pattern (never a backtracking JavaScript RegExp).
import { isUtf8 } from 'node:buffer';
import { ErrOptionRange } from '../core/errors.js';

/**
 * A file name or path as Docker's Go code sees it: valid UTF-8 decoded, and every byte that is not
 * part of valid UTF-8 kept as the lone surrogate U+DC80..U+DCFF (never produced by decoding), so
 * that comparisons stay byte-exact and `?` still matches one such byte, as Go's RuneError does.
 */
export function decodeName(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const n = utf8Length(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]!);
      i++;
    } else {
      out += bytes.toString('utf8', i, i + n);
      i += n;
    }
  }
  return out;
}

/** The bytes of a name decodeName gave: its inverse (U+DC80..U+DCFF alone are raw bytes again). */
export function encodeName(name: string): Buffer {
  if (!/[\udc80-\udcff]/.test(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // A lone low surrogate: decodeName never pairs one with a high surrogate before it.
    if (c >= 0xdc80 && c <= 0xdcff && !(i > 0 && name.charCodeAt(i - 1) >= 0xd800 && name.charCodeAt(i - 1) <= 0xdbff)) {
      parts.push(Buffer.from(name.slice(from, i), 'utf8'), Buffer.from([c - 0xdc00]));
      from = i + 1;
    }
  }
  parts.push(Buffer.from(name.slice(from), 'utf8'));
  return Buffer.concat(parts);
}

const endsWithBytes = (b: Buffer, suffix: Buffer) => b.length >= suffix.length && b.subarray(b.length - suffix.length).equals(suffix);

/** Length of the valid UTF-8 sequence at bytes[i], or 0 (overlong forms and surrogates are invalid). */
function utf8Length(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/**
 * The lines of a .dockerignore file, as Go's bufio.Scanner gives them to ignorefile.ReadAll: split
 * at '\n', a '\r' before it dropped, a UTF-8 byte order mark dropped from the first line only.
 */
export function dockerignoreLines(content: Buffer): string[] {
  const bom = content.length >= 3 && content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf;
  const lines = decodeName(bom ? content.subarray(3) : content).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

// Go's strings.TrimSpace (unicode.IsSpace), which is not String.prototype.trim: U+0085 is space
// in Go, the byte order mark U+FEFF is not.
const SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, 'g');
const trimSpace = (s: string) => s.replace(TRIM, '');

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** A pattern Docker could not use: the build fails, so tarDirectory refuses it at the call too. */
function bad(option: string, pattern: string, why: string): ErrOptionRange {
  return new ErrOptionRange(option, `.dockerignore patterns Docker accepts (${why})`, pattern);
}

/**
 * One line as ignorefile.ReadAll gives it to the matcher: undefined for a comment ('#' first, before
 * any trimming) or a blank line; else trimmed, '!' kept aside, the rest cleaned as a path and its
 * leading '/' dropped ('/a' and 'a' are the same pattern).
 */
function readLine(line: string): string | undefined {
  if (line.startsWith('#')) return undefined;
  let p = trimSpace(line);
  if (p === '') return undefined;
  const invert = p.startsWith('!');
  if (invert) p = trimSpace(p.slice(1));
  if (p.length > 0) {
    p = cleanPath(p);
    if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
  }
  return invert ? `!${p}` : p;
}

/**
 * Go's filepath.Match(pattern, ".") is used by Docker only for its error: a pattern that is not a
 * valid glob (an unclosed or empty class, a trailing '\', a range without an end) is refused.
 */
function globError(p: string): string | undefined {
  const cps = [...p];
  let i = 0;
  // getEsc of filepath.Match: one class character, possibly escaped, that must not end the pattern.
  const esc = (): boolean => {
    if (i >= cps.length || cps[i] === '-' || cps[i] === ']') return false;
    if (cps[i] === '\\') {
      i++;
      if (i >= cps.length) return false;
    }
    i++;
    return i < cps.length;
  };
  while (i < cps.length) {
    const c = cps[i]!;
    if (c === '\\') {
      if (i + 1 >= cps.length) return "a trailing '\\'";
      i += 2;
    } else if (c === '[') {
      i++;
      if (cps[i] === '^') i++;
      for (let ranges = 0; ; ranges++) {
        if (cps[i] === ']' && ranges > 0) {
          i++;
          break;
        }
        if (!esc()) return 'a malformed [...] class';
        if (cps[i] === '-') {
          i++;
          if (!esc()) return 'a malformed [...] class';
        }
      }
    } else i++;
  }
  return undefined;
}

type Kind = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface Pattern {
  exclusion: boolean;
  /** The cleaned pattern, '!' removed. */
  text: string;
  kind: Kind;
  re: ((path: string) => boolean) | undefined;
  /**
   * For a suffix test whose suffix starts inside a character: its bytes, compared with the path's
   * bytes (Docker takes `cleanedPattern[2:]`, two bytes, so '\uFEFF**x' leaves the BOM's last byte).
   */
  suffixBytes: Buffer | undefined;
}

const REGEXP_ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/**
 * Pattern.compile of patternmatcher: the Go regular expression of a pattern and the shortcut Docker
 * takes instead of it for the simple forms (exact, 'a**' prefix, '**a' suffix).
 */
function goRegexp(text: string): { kind: Kind; source: string } {
  // Docker reads the pattern with Go's text/scanner, whose first Peek skips one byte order mark at
  // the start of the text: '\uFEFF*.pem' is '^[^/]*\.pem$'. Only the expression loses it: the
  // exact, prefix and suffix tests compare the cleaned text, BOM included (see matchOne).
  const cps = [...(text.startsWith('\uFEFF') ? text.slice(1) : text)];
  let source = '^';
  let kind: Kind = 'exact';
  for (let i = 0, at = 0; at < cps.length; i++) {
    const ch = cps[at++]!;
    if (ch === '*') {
      if (cps[at] === '*') {
        at++;
        if (cps[at] === '/') at++; // '**/' is '**'
        if (at >= cps.length) {
          if (kind === 'exact') kind = 'prefix';
          else {
            source += '.*';
            kind = 'regexp';
          }
        } else {
          source += '(.*/)?';
          kind = 'regexp';
        }
        // Docker's own quirk: a leading '**' is a plain suffix test unless a later character
        // needs the expression.
        if (i === 0) kind = 'suffix';
      } else {
        source += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      source += '[^/]';
      kind = 'regexp';
    } else if (REGEXP_ESCAPED.has(ch)) {
      source += `\\${ch}`;
    } else if (ch === '\\') {
      if (at < cps.length) {
        source += `\\${cps[at++]!}`;
        kind = 'regexp';
      } else source += '\\';
    } else if (ch === '[' || ch === ']') {
      source += ch;
      kind = 'regexp';
    } else source += ch;
  }
  return { kind, source: `${source}$` };
}

// ---- Go regular expression (the subset Docker's translation can produce) to a matcher ----

type Ranges = [number, number][];
const MAX_CP = 0x10ffff;
const DIGIT: Ranges = [[0x30, 0x39]];
const SPACES: Ranges = [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]];
const WORD: Ranges = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const POSIX: Record<string, Ranges> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: DIGIT,
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: WORD,
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

function complement(r: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of [...r].sort((a, b) => a[0] - b[0])) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

const cp = (c: number) => `\\u{${c.toString(16)}}`;
const rangesText = (r: Ranges) => r.map(([lo, hi]) => (lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`)).join('');
const isAlnum = (c: string) => /^[0-9A-Za-z]$/.test(c);
const isOctal = (c: string | undefined) => c !== undefined && c >= '0' && c <= '7';
const isHex = (c: string | undefined) => c !== undefined && /^[0-9A-Fa-f]$/.test(c);

class GoSyntax extends Error {}

/**
 * Compiles Go's regexp syntax (Perl flags, as regexp.Compile) into a matcher: character classes
 * become one-character JavaScript `u` expressions, the rest an NFA run without backtracking.
 */
function goMatcher(source: string): (input: string) => boolean {
  const s = [...source];
  let i = 0;
  const perlClass = (c: string): Ranges | undefined => {
    const base = c === 'd' || c === 'D' ? DIGIT : c === 's' || c === 'S' ? SPACES : c === 'w' || c === 'W' ? WORD : undefined;
    if (!base) return undefined;
    return c === c.toUpperCase() ? complement(base) : base;
  };
  // \pL, \p{Greek}, \P{^Lu}: Go's names are general categories, scripts or Any.
  const unicodeClass = (): string => {
    const upperP = s[i] === 'P';
    i++;
    let name: string;
    if (s[i] === '{') {
      const end = s.indexOf('}', i);
      if (end < 0) throw new GoSyntax('an unclosed \\p{...}');
      name = s.slice(i + 1, end).join('');
      i = end + 1;
    } else {
      if (i >= s.length) throw new GoSyntax('an incomplete \\p');
      name = s[i++]!;
    }
    let negate = upperP;
    if (name.startsWith('^')) {
      negate = !negate;
      name = name.slice(1);
    }
    const letter = negate ? 'P' : 'p';
    for (const candidate of [name, `Script=${name}`]) {
      const text = `\\${letter}{${candidate}}`;
      try {
        new RegExp(text, 'u');
        return text;
      } catch {
        // not this form of the name
      }
    }
    throw new GoSyntax(`an unknown Unicode class ${name}`);
  };
  // parseEscape: the character a '\' escape stands for (s[i] is the character after '\').
  const escapeChar = (): number => {
    const c = s[i++];
    if (c === undefined) throw new GoSyntax("a trailing '\\'");
    if (c.codePointAt(0)! < 0x80 && !isAlnum(c)) return c.codePointAt(0)!;
    if (c >= '1' && c <= '7' && !isOctal(s[i])) throw new GoSyntax('a back reference');
    if (c >= '0' && c <= '7') {
      let r = Number(c);
      for (let k = 1; k < 3 && isOctal(s[i]); k++) r = r * 8 + Number(s[i++]);
      return r;
    }
    if (c === 'x') {
      if (s[i] === '{') {
        const end = s.indexOf('}', i);
        const hex = end < 0 ? '' : s.slice(i + 1, end).join('');
        if (!/^[0-9A-Fa-f]+$/.test(hex) || parseInt(hex, 16) > MAX_CP) throw new GoSyntax('a malformed \\x{...}');
        i = end + 1;
        return parseInt(hex, 16);
      }
      if (!isHex(s[i]) || !isHex(s[i + 1])) throw new GoSyntax('a malformed \\x');
      i += 2;
      return parseInt(s.slice(i - 2, i).join(''), 16);
    }
    const named: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
    if (c in named) return named[c]!;
    throw new GoSyntax(`an escape \\${c} Go's regexp does not know`);
  };
  const classChar = (): number => {
    if (s[i] === '\\') {
      i++;
      return escapeChar();
    }
    if (i >= s.length) throw new GoSyntax('a [ without ]');
    return s[i++]!.codePointAt(0)!;
  };
  const parseClass = (): string => {
    i++; // '['
    let negate = false;
    if (s[i] === '^') {
      negate = true;
      i++;
    }
    const parts: string[] = [];
    let first = true;
    while (i >= s.length || s[i] !== ']' || first) {
      if (i >= s.length) throw new GoSyntax('a [ without ]');
      first = false;
      if (s[i] === '[' && s[i + 1] === ':') {
        const end = findFrom(s, ':]', i + 2);
        if (end >= 0) {
          let name = s.slice(i + 2, end).join('');
          const neg = name.startsWith('^');
          if (neg) name = name.slice(1);
          const r = POSIX[name];
          if (!r) throw new GoSyntax(`an unknown class [:${name}:]`);
          parts.push(rangesText(neg ? complement(r) : r));
          i = end + 2;
          continue;
        }
      }
      if (s[i] === '\\' && (s[i + 1] === 'p' || s[i + 1] === 'P')) {
        i++;
        parts.push(unicodeClass());
        continue;
      }
      if (s[i] === '\\' && s[i + 1] !== undefined && perlClass(s[i + 1]!)) {
        parts.push(rangesText(perlClass(s[i + 1]!)!));
        i += 2;
        continue;
      }
      const lo = classChar();
      let hi = lo;
      if (s[i] === '-' && s[i + 1] !== undefined && s[i + 1] !== ']') {
        i++;
        hi = classChar();
        if (hi < lo) throw new GoSyntax('a range out of order');
      }
      parts.push(rangesText([[lo, hi]]));
    }
    i++; // ']'
    return `[${negate ? '^' : ''}${parts.join('')}]`;
  };

  // The expression as a tree: character tests (each a one-character JavaScript expression, which
  // cannot backtrack), assertions, groups and repetitions.
  const stack: Node[][] = [[]];
  const top = () => stack[stack.length - 1]!;
  const atom = (text: string) => top().push({ t: 'char', re: new RegExp(`^${text}$`, 'u') });
  let quantified = false; // the last item is a repetition: Go allows only a '?' (lazy) after it
  while (i < s.length) {
    const c = s[i]!;
    const wasQuantified = quantified;
    quantified = false;
    if (c === '^' || c === '$') {
      top().push({ t: 'assert', kind: c === '^' ? 'begin' : 'end' });
      i++;
    } else if (c === '.') {
      atom('[^\\n]'); // Go's '.' stops only at '\n'
      i++;
    } else if (c === '*' || c === '?' || c === '+') {
      i++;
      if (wasQuantified && c === '?') continue; // lazy: the same yes/no answer
      const items = top();
      if (wasQuantified) throw new GoSyntax('a nested repetition');
      const sub = items.pop();
      if (!sub) throw new GoSyntax('a repetition of nothing');
      items.push({ t: c === '*' ? 'star' : c === '?' ? 'quest' : 'plus', sub });
      quantified = true;
    } else if (c === '(') {
      stack.push([]);
      i++;
    } else if (c === ')') {
      if (stack.length === 1) throw new GoSyntax("an unopened ')'");
      const items = stack.pop()!;
      top().push({ t: 'group', items });
      i++;
    } else if (c === '[') {
      atom(parseClass());
    } else if (c === '\\') {
      const n = s[i + 1];
      if (n === 'A') top().push({ t: 'assert', kind: 'begin' });
      else if (n === 'z') top().push({ t: 'assert', kind: 'end' });
      else if (n === 'b' || n === 'B') top().push({ t: 'assert', kind: n === 'b' ? 'word' : 'notword' });
      else if (n === 'Q') {
        i += 2;
        while (i < s.length && !(s[i] === '\\' && s[i + 1] === 'E')) atom(cp(s[i++]!.codePointAt(0)!));
        i += 2;
        continue;
      } else if (n === 'p' || n === 'P') {
        i++;
        atom(unicodeClass());
        continue;
      } else if (n !== undefined && perlClass(n)) atom(`[${rangesText(perlClass(n)!)}]`);
      else {
        i++;
        atom(cp(escapeChar()));
        continue;
      }
      i += 2;
    } else {
      atom(cp(c.codePointAt(0)!));
      i++;
    }
  }
  if (stack.length !== 1) throw new GoSyntax("a '(' without ')'");
  return compileProgram(stack[0]!);
}

// ---- A Thompson NFA run in lockstep (as Go's regexp does): time linear in the path's length for
// any pattern. A backtracking JavaScript RegExp of '**/**/**/**/**/**/**/**/x' takes minutes on a
// deep path; a .dockerignore comes with the tree, which may be anyone's.

type Node =
  | { t: 'char'; re: RegExp }
  | { t: 'assert'; kind: 'begin' | 'end' | 'word' | 'notword' }
  | { t: 'group'; items: Node[] }
  | { t: 'star' | 'quest' | 'plus'; sub: Node };

type Inst =
  | { op: 'char'; re: RegExp }
  | { op: 'assert'; kind: 'begin' | 'end' | 'word' | 'notword' }
  | { op: 'split'; x: number; y: number }
  | { op: 'jmp'; x: number }
  | { op: 'match' };

function compileProgram(items: Node[]): (input: string) => boolean {
  const prog: Inst[] = [];
  const emit = (n: Node): void => {
    switch (n.t) {
      case 'char':
        prog.push({ op: 'char', re: n.re });
        return;
      case 'assert':
        prog.push({ op: 'assert', kind: n.kind });
        return;
      case 'group':
        n.items.forEach(emit);
        return;
      case 'star': {
        const split = prog.push({ op: 'split', x: 0, y: 0 }) - 1;
        emit(n.sub);
        prog.push({ op: 'jmp', x: split });
        prog[split] = { op: 'split', x: split + 1, y: prog.length };
        return;
      }
      case 'quest': {
        const split = prog.push({ op: 'split', x: 0, y: 0 }) - 1;
        emit(n.sub);
        prog[split] = { op: 'split', x: split + 1, y: prog.length };
        return;
      }
      case 'plus': {
        const start = prog.length;
        emit(n.sub);
        prog.push({ op: 'split', x: start, y: prog.length + 1 });
        return;
      }
    }
  };
  items.forEach(emit);
  prog.push({ op: 'match' });
  return (input) => run(prog, [...input]);
}

const isWordChar = (c: string | undefined) => c !== undefined && /^[0-9A-Za-z_]$/.test(c);

function run(prog: Inst[], chars: string[]): boolean {
  const holds = (kind: string, pos: number) =>
    kind === 'begin' ? pos === 0
      : kind === 'end' ? pos === chars.length
        : (isWordChar(chars[pos - 1]) !== isWordChar(chars[pos])) === (kind === 'word');
  // Adds pc and what it reaches without reading a character (an explicit stack: a long pattern
  // must not exhaust the call stack); true when that reaches 'match'.
  const add = (list: number[], seen: Uint8Array, start: number, pos: number): boolean => {
    const todo = [start];
    while (todo.length > 0) {
      const pc = todo.pop()!;
      if (seen[pc]) continue;
      seen[pc] = 1;
      const inst = prog[pc]!;
      if (inst.op === 'match') return true;
      if (inst.op === 'jmp') todo.push(inst.x);
      else if (inst.op === 'split') todo.push(inst.y, inst.x);
      else if (inst.op === 'assert') {
        if (holds(inst.kind, pos)) todo.push(pc + 1);
      } else list.push(pc);
    }
    return false;
  };
  const anchored = prog[0]!.op === 'assert' && (prog[0] as { kind: string }).kind === 'begin';
  let current: number[] = [];
  let seen = new Uint8Array(prog.length);
  for (let pos = 0; ; pos++) {
    // An unanchored search, as MatchString: a new start at every position ('^' stops the others).
    if (add(current, seen, 0, pos)) return true;
    if (pos === chars.length || (current.length === 0 && anchored)) return false;
    const next: number[] = [];
    seen = new Uint8Array(prog.length);
    for (const pc of current) {
      const inst = prog[pc] as { op: 'char'; re: RegExp };
      if (inst.re.test(chars[pos]!) && add(next, seen, pc + 1, pos + 1)) return true;
    }
    current = next;
  }
}

function findFrom(s: string[], needle: string, from: number): number {
  for (let k = from; k + needle.length <= s.length; k++) if (s.slice(k, k + needle.length).join('') === needle) return k;
  return -1;
}

function compile(option: string, raw: string, line: string): Pattern | undefined {
  // PatternMatcher.New: trimmed and cleaned again, then '!' taken off.
  let p = trimSpace(raw);
  if (p === '') return undefined;
  p = cleanPath(p);
  let exclusion = false;
  if (p.startsWith('!')) {
    if (p.length === 1) throw bad(option, line, "'!' alone");
    exclusion = true;
    p = p.slice(1);
  }
  const why = globError(p);
  if (why) throw bad(option, line, why);
  const { kind, source } = goRegexp(p);
  let re: ((path: string) => boolean) | undefined;
  if (kind === 'regexp') {
    try {
      re = goMatcher(source);
    } catch (err) {
      throw bad(option, line, err instanceof GoSyntax ? err.message : 'an expression Go cannot compile');
    }
  }
  let suffixBytes: Buffer | undefined;
  if (kind === 'suffix') {
    // Docker strips the leading '**' by byte offset (cleanedPattern[2:]), which is two characters
    // unless a BOM stands first (goRegexp skips it): then the suffix starts with the BOM's last
    // byte, a UTF-8 continuation byte, and only a byte comparison gives Docker's answer.
    const bytes = encodeName(p).subarray(2);
    if (bytes.length > 0 && (bytes[0]! & 0xc0) === 0x80) suffixBytes = bytes;
  }
  return { exclusion, text: p, kind, re, suffixBytes };
}

function matchOne(p: Pattern, path: string): boolean {
  switch (p.kind) {
    case 'exact':
      return path === p.text;
    case 'prefix':
      return path.startsWith(p.text.slice(0, -2));
    case 'suffix': {
      // Its first byte is a continuation byte, not '/': only the first of Docker's two tests applies.
      if (p.suffixBytes) return endsWithBytes(encodeName(path), p.suffixBytes);
      const suffix = p.text.slice(2);
      return path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
    }
    case 'regexp':
      return p.re!(path);
  }
}

export interface Matcher {
  /** Whether a path ('/'-separated, relative to the root, as bytes) is left out. */
  excluded(rel: Buffer | string): boolean;
  /** Some pattern re-includes ('!'): an excluded directory must still be walked. */
  reincludes: boolean;
}

/**
 * The matcher of .dockerignore lines (or `exclude` entries, read the same way): undefined when no
 * line is a pattern. `option` names them in errors. Throws ErrOptionRange for a pattern Docker
 * refuses ('!' alone, a malformed class, a trailing '\', an invalid expression).
 */
export function dockerignoreMatcher(lines: readonly string[], option = 'exclude'): Matcher | undefined {
  const patterns: Pattern[] = [];
  for (const line of lines) {
    const read = readLine(line);
    if (read === undefined) continue;
    const p = compile(option, read, line);
    if (p) patterns.push(p);
  }
  if (patterns.length === 0) return undefined;
  return {
    reincludes: patterns.some((p) => p.exclusion),
    // MatchesOrParentMatches: the last pattern that matches the path or one of its parents wins.
    excluded(rel) {
      const path = typeof rel === 'string' ? rel : decodeName(rel);
      const parts = path.split('/');
      const parents: string[] = [];
      for (let k = 1; k < parts.length; k++) parents.push(parts.slice(0, k).join('/'));
      let out = false;
      for (const p of patterns) {
        if (p.exclusion !== out) continue;
        if (matchOne(p, path) || parents.some((parent) => matchOne(p, parent))) out = !p.exclusion;
      }
      return out;
    },
  };
}

/**
 * The matcher of `include` patterns (the same syntax, without '!'): a path is left out unless a
 * pattern matches it or one of its parents. Directories on the way to an included path are walked
 * (and written only when something below them is included). Undefined when no line is a pattern.
 * It is applied beside the exclude matcher, not merged into its list, so that no exclude line, '!'
 * ones included, can take back a path the include patterns leave out, and no include pattern can
 * take back a path an exclude line leaves out.
 */
export function includeMatcher(lines: readonly string[], option = 'include'): Matcher | undefined {
  const kept: string[] = [];
  for (const line of lines) {
    const read = readLine(line);
    if (read === undefined) continue;
    if (read.startsWith('!')) throw new ErrOptionRange(option, "patterns without '!' (leave paths out with exclude)", line);
    kept.push(`!${read}`);
  }
  if (kept.length === 0) return undefined;
  return dockerignoreMatcher(['**', ...kept], option);
}

/**
 * The paths a layer leaves out: those its exclude lines (.dockerignore's included) leave out, and
 * those its include patterns do not take (includeMatcher). Undefined when there are neither. The one
 * decision of the tar walk and of anything that must agree with it (buildImage's eStargz prioritize).
 */
export function layerMatcher(exclude: readonly string[], include: readonly string[]): Matcher | undefined {
  const ex = dockerignoreMatcher(exclude, 'exclude');
  const inc = includeMatcher(include, 'include');
  if (ex === undefined || inc === undefined) return ex ?? inc;
  return { reincludes: true, excluded: (rel) => inc.excluded(rel) || ex.excluded(rel) };
}
