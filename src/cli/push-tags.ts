// --tag with a push (`image --push`, `push`): each value is a bare tag (`latest`, `v1.2.3`) or a name
// in the pushed repository (registry/tags.ts has the rule). A name in another repository is a usage
// error naming it, before anything is read or written: it used to be dropped while the push exited 0.
import type { Reference } from '../image/reference.js';
import { pushTags } from '../registry/tags.js';
import { ErrCliUsage } from './errors.js';

/** The fully qualified names the push will tag (the reference's own tag first); exit 2 for a bad --tag. */
export function pushTagNames(ref: Reference, tags: readonly string[], command: string): string[] {
  for (const t of tags) {
    try {
      pushTags(ref, [t]);
    } catch (err) {
      throw new ErrCliUsage(`--tag ${t}: ${(err as Error).message}`, command);
    }
  }
  return pushTags(ref, tags);
}
