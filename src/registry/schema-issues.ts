/**
 * One line for a failed zod parse of a registry file: "<field>: <problem>[, got <value>]", the
 * field as a path into the file (`arch.hiddenSizes`, `tensors[3].shape`, `config.learningRate`).
 */
import type { z } from 'zod';
import { firstIssue } from '../model/gru4rec-config.ts';

export function describeIssue(issues: readonly z.core.$ZodIssue[], root: unknown): string {
  const issue = firstIssue(issues);
  const field = fieldPath(issue.path);
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${fieldPath([...issue.path, k])}: unknown field`).join('; ');
  const lead = field ? `${field}: ${issue.message}` : issue.message;
  // Refinements word their own message with the values involved; a field rule shows the value that broke it.
  if (issue.code === 'custom') return lead;
  return `${lead}, got ${preview(valueAt(root, issue.path))}`;
}

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** The value as JSON, cut short: an item id list of a million entries must not end up in one error line. */
function preview(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
