/**
 * Reads a Grafana dashboard's Prometheus queries the way Prometheus would: every panel target and
 * query variable, Grafana's variables expanded, parsed with the Prometheus project's own PromQL
 * grammar (@prometheus-io/lezer-promql, the parser of Prometheus's web UI), down to the metric
 * names, label matchers and grouping labels each query uses. test/unit/deploy-dashboard.test.ts
 * checks those against the metric catalogue and against real scrapes.
 */
import { parser } from '@prometheus-io/lezer-promql';

export interface DashboardQuery {
  /** Where it is, for messages: `panel "Title" target A` or `variable source`. */
  where: string;
  /** The PromQL as written in the dashboard (Grafana variables not expanded). */
  expr: string;
  /** Legend template (`{{model_version}}`), when the target has one. */
  legend?: string;
}

interface GrafanaPanel {
  title?: string;
  type?: string;
  targets?: Array<{ refId?: string; expr?: string; legendFormat?: string }>;
  panels?: GrafanaPanel[];
}

export interface GrafanaDashboard {
  panels?: GrafanaPanel[];
  templating?: { list?: Array<{ name: string; type: string; query?: unknown; definition?: string; options?: Array<{ value: string }> }> };
}

/** Every panel, rows' nested panels included (a collapsed row keeps its panels inside it). */
export function allPanels(d: GrafanaDashboard): GrafanaPanel[] {
  const walk = (ps: readonly GrafanaPanel[] = []): GrafanaPanel[] => ps.flatMap((p) => [p, ...walk(p.panels)]);
  return walk(d.panels);
}

/** Panel targets with an expression, in dashboard order. */
export function panelQueries(d: GrafanaDashboard): DashboardQuery[] {
  return allPanels(d).flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => typeof t.expr === 'string')
      .map((t) => ({ where: `panel "${p.title}" target ${t.refId}`, expr: t.expr as string, ...(t.legendFormat ? { legend: t.legendFormat } : {}) })),
  );
}

/** A query variable's `label_values(<series selector>, <label>)`. */
export interface LabelValuesQuery {
  where: string;
  selector: string;
  label: string;
}

const LABEL_VALUES = /^\s*label_values\(\s*(.+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/;

export function variableQueries(d: GrafanaDashboard): LabelValuesQuery[] {
  return (d.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
      const m = LABEL_VALUES.exec(q ?? '');
      if (!m) throw new Error(`variable ${v.name}: expected label_values(selector, label), got ${JSON.stringify(q)}`);
      return { where: `variable ${v.name}`, selector: m[1], label: m[2] };
    });
}

/** Grafana's own variables a Prometheus query may use, with a value for evaluating it. */
export const GRAFANA_BUILTINS: Readonly<Record<string, string>> = { __rate_interval: '1m', __interval: '15s', __range: '1h' };

/**
 * The query with every `$name` / `${name}` / `[[name]]` replaced from `values`; a name that is
 * neither there nor a Grafana built-in is an error (a panel that would always be empty).
 */
export function expandVariables(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    const value = values[name] ?? GRAFANA_BUILTINS[name];
    if (value === undefined) throw new Error(`${whole} is not a dashboard variable`);
    return value;
  });
}

/** Names the variables a query uses. */
export function variablesUsed(expr: string): string[] {
  return [...expr.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

export interface LabelMatcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  /** The metric name (from the identifier or a `__name__="…"` matcher). */
  metric: string | null;
  matchers: LabelMatcher[];
}

export interface PromQLReading {
  selectors: Selector[];
  /** Labels named in by / without / on / ignoring / group_left / group_right. */
  groupingLabels: string[];
  /** Parse errors, with the offending text; empty for a query Prometheus accepts. */
  errors: string[];
}

/** The text of a PromQL string literal ("…", '…' or `…`). */
function stringValue(literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1);
  const body = literal.slice(1, -1);
  return body.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
}

/** Parses a PromQL expression (variables already expanded) into its selectors and grouping labels. */
export function readPromQL(expr: string): PromQLReading {
  const tree = parser.parse(expr);
  const out: PromQLReading = { selectors: [], groupingLabels: [], errors: [] };
  const text = (from: number, to: number) => expr.slice(from, to);
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) {
        out.errors.push(`syntax error at ${node.from}: ${JSON.stringify(text(Math.max(0, node.from - 10), Math.min(expr.length, node.to + 10)))}`);
        return false;
      }
      if (node.name === 'VectorSelector') {
        const sel: Selector = { metric: null, matchers: [] };
        const identifier = node.node.getChild('Identifier');
        if (identifier) sel.metric = text(identifier.from, identifier.to);
        const matchers = node.node.getChild('LabelMatchers');
        for (const m of matchers ? [...matchers.getChildren('UnquotedLabelMatcher'), ...matchers.getChildren('QuotedLabelMatcher')] : []) {
          const name = m.getChild('LabelName') ?? m.getChild('QuotedLabelName');
          const op = m.getChild('MatchOp');
          const value = m.getChild('StringLiteral');
          if (!name || !op || !value) {
            out.errors.push(`incomplete label matcher ${JSON.stringify(text(m.from, m.to))}`);
            continue;
          }
          const label = name.name === 'QuotedLabelName' ? stringValue(text(name.from, name.to)) : text(name.from, name.to);
          const matcher = { label, op: text(op.from, op.to) as LabelMatcher['op'], value: stringValue(text(value.from, value.to)) };
          if (label === '__name__' && matcher.op === '=') sel.metric = matcher.value;
          else sel.matchers.push(matcher);
        }
        out.selectors.push(sel);
        return false;
      }
      if (node.name === 'GroupingLabels') {
        for (const l of [...node.node.getChildren('LabelName'), ...node.node.getChildren('QuotedLabelName')])
          out.groupingLabels.push(l.name === 'QuotedLabelName' ? stringValue(text(l.from, l.to)) : text(l.from, l.to));
        return false;
      }
      return undefined;
    },
  });
  return out;
}

/** Labels a legend template names: `{{model_version}} @{{ k }}` → model_version, k. */
export function legendLabels(legend: string | undefined): string[] {
  if (legend === undefined || legend === '__auto') return [];
  return [...legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]);
}
