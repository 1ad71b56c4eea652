import type { z } from 'zod';
import { REDACTED_FIELDS } from './schema.ts';

export interface FieldProblem {
  /** Dotted path of the field (`serving.batch.maxSize`), `(root)` for the document itself. */
  field: string;
  /** What is wrong, readable after the field: `expected an integer in [1, 65536], got -1`. */
  problem: string;
}

/** Issues about the given value (not about a relation between fields), where the value helps the reader. */
const ECHOES_VALUE = new Set(['invalid_type', 'invalid_value', 'invalid_format', 'too_small', 'too_big', 'not_multiple_of']);

/**
 * One zod issue as one line: the path joined with dots, the schema's message, and the value that
 * was given. Unknown keys are named in the path; a missing field says so; a secret's value is
 * never repeated (a mistyped password must not end up in a log).
 */
export function describeIssue(issue: z.core.$ZodIssue): FieldProblem {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') path.push(issue.keys[0]);
  const field = path.length > 0 ? path.join('.') : '(root)';
  const missing = issue.code === 'invalid_type' && issue.input === undefined;
  if (missing) return { field, problem: 'is required' };
  const redacted = path.some((p) => REDACTED_FIELDS.has(p));
  const echo = ECHOES_VALUE.has(issue.code) && !redacted;
  return { field, problem: echo ? `${issue.message}, got ${showValue(issue.input)}` : issue.message };
}

function showValue(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  // A whole mapping pasted where a number belongs would make the one line unreadable.
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
