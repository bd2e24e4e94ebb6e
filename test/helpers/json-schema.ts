// A small JSON Schema (draft-07) checker: the keywords the SPDX 2.3 schema uses (type, properties,
// required, enum, items, additionalProperties, minItems), no more. Written here so that the test
// needs no new dependency; a keyword it does not know is an error, so it never passes by ignoring one.
type Schema = Record<string, unknown>;

const KNOWN = new Set(['$schema', '$id', 'title', 'description', '$comment', 'type', 'properties', 'required', 'enum', 'items', 'additionalProperties', 'minItems']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** The errors of `value` against `schema` (empty when it is valid), each with its JSON path. */
export function validateSchema(schema: Schema, value: unknown, path = '$'): string[] {
  const errors: string[] = [];
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) errors.push(`${path}: schema keyword ${key} is not supported by this checker`);
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) errors.push(`${path}: is ${t}, expected ${types.join('|')}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) if (!Object.hasOwn(obj, r)) errors.push(`${path}: required ${r} is missing`);
    for (const [k, v] of Object.entries(obj)) {
      if (Object.hasOwn(props, k)) errors.push(...validateSchema(props[k]!, v, `${path}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: ${k} is not allowed`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validateSchema(schema.additionalProperties as Schema, v, `${path}.${k}`));
    }
  }
  if (t === 'array') {
    const arr = value as unknown[];
    if (typeof schema.minItems === 'number' && arr.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (typeof schema.items === 'object' && schema.items !== null) arr.forEach((v, i) => errors.push(...validateSchema(schema.items as Schema, v, `${path}[${i}]`)));
  }
  return errors;
}
