// Base configs carried into a new image (issue 19 item 16): every key kept ("__proto__" included,
// in labels, env-like maps and unknown fields), a nesting limit with a coded error instead of a
// stack overflow, and numbers JSON.parse would round refused rather than silently rewritten.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBase } from '../../src/build/base.js';
import { buildImage } from '../../src/build/build.js';
import { canonicalJSON, MAX_JSON_DEPTH, parseJSON, sha256 } from '../../src/image/json.js';
import { tempDir } from '../helpers/tree.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

function blob(dir: string, bytes: Buffer): string {
  const digest = sha256(bytes);
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  return digest;
}

/** An OCI layout whose one image has no layers and exactly `configText` as its config. */
function layoutWithConfig(dir: string, configText: string): string {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const config = Buffer.from(configText);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: blob(dir, config), size: config.length }, layers: [] }));
  const index = { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: blob(dir, manifest), size: manifest.length }] };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return dir;
}

/** A base config text: `config` members spliced in as raw JSON text. */
function configText(containerConfig: string, extra = ''): string {
  return `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":${containerConfig}${extra}}`;
}

/** The config of the one image `buildImage` wrote into the layout `dir`, as text. */
function builtConfig(dir: string): string {
  const read = (digest: string) => readFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), 'utf8');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(read(index.manifests[0]!.digest)) as { config: { digest: string } };
  return read(manifest.config.digest);
}

function nested(depth: number, open: string, close: string, inner = '1'): string {
  return `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
}

describe('canonicalJSON and parseJSON', () => {
  it('keep a "__proto__" key as a key, at the top and nested, and do not touch Object.prototype', () => {
    const text = '{"b":1,"__proto__":{"polluted":"yes"},"a":{"__proto__":[1,2]}}';
    const out = canonicalJSON(parseJSON(text)).toString();
    assert.equal(out, '{"__proto__":{"polluted":"yes"},"a":{"__proto__":[1,2]},"b":1}');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('keep keys byte for byte (escapes, NUL, non-ASCII, number-like keys) and take the last of a key given twice', () => {
    const text = '{"k\\u0000":1,"\\u00e9t\\u00e9":2,"10":3,"9":4,"x":"first","x":"last"}';
    const back = JSON.parse(canonicalJSON(parseJSON(text)).toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(back).sort(), ['10', '9', 'k\u0000', 'x', 'été'].sort());
    assert.equal(back['x'], 'last');
  });

  it(`allow ${MAX_JSON_DEPTH} levels of nesting and refuse one more with ERR_CONFIG_INVALID (arrays, objects, mixed)`, () => {
    for (const [open, close] of [['[', ']'], ['{"a":', '}']]) {
      assert.doesNotThrow(() => canonicalJSON(parseJSON(nested(MAX_JSON_DEPTH, open!, close!))));
      assert.throws(() => parseJSON(nested(MAX_JSON_DEPTH + 1, open!, close!)), { code: 'ERR_CONFIG_INVALID' });
    }
    assert.throws(() => parseJSON(nested(40, '[{"x":', '}]')), { code: 'ERR_CONFIG_INVALID' });
    // Brackets inside strings are text, not nesting.
    assert.doesNotThrow(() => parseJSON(JSON.stringify({ s: '['.repeat(1000), t: '\\"[[[['.repeat(100) })));
  });

  it('refuse a value built in code nested deeper than the limit with ERR_CONFIG_INVALID, not a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    assert.throws(() => canonicalJSON({ config: deep }), { code: 'ERR_CONFIG_INVALID' });
    let list: unknown = [];
    for (let i = 0; i < 100_000; i++) list = [list];
    assert.throws(() => canonicalJSON(list), { code: 'ERR_CONFIG_INVALID' });
  });

  it('refuse numbers a double cannot hold exactly, keep those it can', () => {
    // 2^60 is a double, but JavaScript writes it back as 1152921504606847000: rewritten, so refused.
    for (const bad of ['12345678901234567890', '1152921504606846976', '9007199254740993', '-9007199254740993', '1e400', '1e-400', '0.10000000000000000555']) {
      assert.throws(() => parseJSON(`{"n":${bad}}`), { code: 'ERR_CONFIG_INVALID' }, bad);
      assert.throws(() => parseJSON(`[1,[${bad}]]`), { code: 'ERR_CONFIG_INVALID' }, bad);
    }
    for (const good of ['0', '-0', '1', '1.0', '1e3', '1E+3', '0.5', '-2.25e-2', '9007199254740992', '30000000000', '3.14159']) {
      assert.equal(canonicalJSON(parseJSON(`{"n":${good}}`)).toString(), `{"n":${JSON.stringify(Number(good))}}`, good);
    }
    // Digits inside strings are text.
    assert.doesNotThrow(() => parseJSON('{"s":"12345678901234567890","t":"\\\\","u":1}'));
  });
});

describe('a base image config carried into a new image', () => {
  it('keeps "__proto__" in Labels, ExposedPorts, Volumes and unknown maps next to added labels and env', async () => {
    const tmp = tempDir();
    try {
      const base = layoutWithConfig(join(tmp.path, 'base'), configText(
        '{"Labels":{"__proto__":"label value","a":"1"},"ExposedPorts":{"__proto__":{},"80/tcp":{}},"Volumes":{"__proto__":{}},"Env":["__proto__=x"],"Custom":{"__proto__":{"k":"v"}}}',
        ',"__proto__":{"top":"level"}',
      ));
      const src = join(tmp.path, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'f'), 'x');
      const out = join(tmp.path, 'out');
      await buildImage({ base, layers: [src], tags: ['app:1'], ociDir: out, labels: ['b=2', '__proto__=mine'], env: ['K=V'] });
      const config = builtConfig(out);
      const parsed = JSON.parse(config) as { config: Record<string, Record<string, unknown>>; [k: string]: unknown };
      assert.ok(Object.hasOwn(parsed, '__proto__'), config);
      assert.deepEqual(Object.getOwnPropertyDescriptor(parsed, '__proto__')!.value, { top: 'level' });
      const c = parsed.config;
      assert.deepEqual(Object.keys(c['Labels']!).sort(), ['__proto__', 'a', 'b']);
      assert.equal(Object.getOwnPropertyDescriptor(c['Labels'], '__proto__')!.value, 'mine');
      assert.ok(Object.hasOwn(c['ExposedPorts']!, '__proto__'), config);
      assert.ok(Object.hasOwn(c['Volumes']!, '__proto__'), config);
      assert.ok(Object.hasOwn(c['Custom']!, '__proto__'), config);
      assert.deepEqual(c['Env'], ['__proto__=x', 'K=V']);
    } finally {
      tmp.remove();
    }
  });

  it('a base config nested 10000 deep fails with a coded error, not "Maximum call stack size exceeded"', async () => {
    const tmp = tempDir();
    try {
      for (const [i, inner] of [nested(10_000, '[', ']'), nested(10_000, '{"a":', '}')].entries()) {
        const base = layoutWithConfig(join(tmp.path, `base${i}`), configText('{}', `,"deep":${inner}`));
        await assert.rejects(loadBase(base), (err: Error & { code?: string; cause?: { code?: string } }) => {
          assert.equal(err.code, 'ERR_BASE_IMAGE');
          assert.equal(err.cause?.code, 'ERR_CONFIG_INVALID');
          assert.match(err.message, /nested deeper than 64/);
          return true;
        });
      }
    } finally {
      tmp.remove();
    }
  });

  it('a base config holding 12345678901234567890 is refused, not rewritten as 12345678901234567000', async () => {
    const tmp = tempDir();
    try {
      const base = layoutWithConfig(join(tmp.path, 'base'), configText('{"Healthcheck":{"Test":["NONE"],"Interval":12345678901234567890}}'));
      await assert.rejects(loadBase(base), (err: Error & { code?: string; cause?: { code?: string } }) => {
        assert.equal(err.code, 'ERR_BASE_IMAGE');
        assert.equal(err.cause?.code, 'ERR_CONFIG_INVALID');
        assert.match(err.message, /12345678901234567890/);
        return true;
      });
    } finally {
      tmp.remove();
    }
  });
});
