// The config's `history`: one entry per layer that is not `empty_layer`, in layer order. Readers
// (podman history, docker history, dive) pair the non-empty entries with the layers by position, so
// a list one short credits every later layer's size to the entry before it.
import { ErrInvalidOption, ErrOptionRange } from '../core/errors.js';

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

const STRING_FIELDS = ['created', 'created_by', 'author', 'comment'] as const;

const isEmptyLayer = (h: unknown): boolean => typeof h === 'object' && h !== null && (h as HistoryEntry).empty_layer === true;

/**
 * A user's history entry for an added layer, checked and copied (a later change to the caller's
 * object does not change the image). `empty_layer: true` is refused: the entry is a real layer's,
 * and marked empty it would shift every reader's pairing of entries and layers.
 */
export function addedHistory(value: unknown, where: string): HistoryEntry | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ErrInvalidOption(where, 'an object (created, created_by, author, comment)', value);
  const entry = value as Record<string, unknown>;
  for (const k of STRING_FIELDS) if (entry[k] !== undefined && typeof entry[k] !== 'string') throw new ErrInvalidOption(`${where}.${k}`, 'a string', entry[k]);
  if (entry.empty_layer !== undefined && typeof entry.empty_layer !== 'boolean') throw new ErrInvalidOption(`${where}.empty_layer`, 'a boolean', entry.empty_layer);
  if (entry.empty_layer === true) throw new ErrOptionRange(`${where}.empty_layer`, 'false or absent: the entry is of a layer that is added', true);
  return Object.freeze({ ...(value as HistoryEntry) });
}

/**
 * The base's history made to credit each of its `layers` once: a history with fewer non-empty
 * entries (an image built by a tool that wrote none, or squashed) gets an empty `{}` per missing
 * one at its end, and one with more keeps its first `layers` non-empty entries and has the later
 * ones marked `empty_layer`, as BuildKit's exporter does (normalizeLayersAndHistory); otherwise the
 * entries this image adds would be paired with the base's layers. A history that already matches
 * is kept as it is (the same bytes, the same digest).
 */
export function baseHistory(history: unknown, layers: number): unknown[] {
  const list: unknown[] = Array.isArray(history) ? [...history] : [];
  let credited = 0;
  for (let i = 0; i < list.length; i++) {
    if (isEmptyLayer(list[i])) continue;
    if (credited < layers) {
      credited++;
      continue;
    }
    const h = list[i];
    list[i] = { ...(typeof h === 'object' && h !== null && !Array.isArray(h) ? h : {}), empty_layer: true };
  }
  for (; credited < layers; credited++) list.push({});
  return list;
}
