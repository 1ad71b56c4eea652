import type { StatusSnapshot } from './status-timeline.ts';

const HTML_SIGNIFICANT = /[<>&\u2028\u2029]/g;

/**
 * The snapshot as JSON that stays inert wherever it lands: `<`, `>`, `&` and the two line
 * separators JavaScript once rejected in strings are written as \u escapes (still the same JSON
 * value), so a version or instance id like `</script><script>…` cannot end a script block or
 * form markup if a copy of the document is ever embedded in HTML. Non-finite numbers become
 * null (JSON has no NaN).
 */
export function statusJson(snapshot: StatusSnapshot): string {
  return JSON.stringify(snapshot).replace(HTML_SIGNIFICANT, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
