import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/**
 * Every structured log line prefork writes carries an `event` name. Operators alert on them and
 * the e2e tests wait for them, so they are a contract: this reads them from the source (the
 * object literals with a literal `event`), so the reference cannot drift from the code.
 */
export interface LogEvent {
  readonly event: string;
  readonly levels: readonly string[];
  readonly fields: readonly string[];
  readonly files: readonly string[];
  /** The message of the first place that logs it, with `${…}` shown as `…`. */
  readonly example: string;
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
/** Fields every line has or that pino adds; listing them per event says nothing. */
const COMMON = new Set(['event']);
/**
 * The master's lines about one worker go through that worker's child logger (WorkerHandle#log,
 * or WorkerEvents#log in the spawner), which binds these fields (workerLogBindings); the calls
 * name it as below. Writing one of them by hand as well would put the key twice on the line.
 */
const HANDLE_LOG = /^(worker|handle|died|events)\.log$/;
export const WORKER_BOUND_FIELDS = ['worker', 'workerPid'] as const;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.d.ts'))
    .map((d) => join(d.parentPath, d.name))
    .sort();
}

function messageText(node: ts.Expression | undefined, file: ts.SourceFile): string {
  if (node === undefined) return '';
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node))
    return node.head.text + node.templateSpans.map((s) => `…${s.literal.text}`).join('');
  // A long message split over lines: 'part one ' + 'part two'.
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    const [left, right] = [messageText(node.left, file), messageText(node.right, file)];
    if (!left.startsWith('(') && !right.startsWith('(')) return left + right;
  }
  return node.getText(file).length < 60 ? `(${node.getText(file)})` : '(computed)';
}

interface Found {
  event: string;
  level: string;
  fields: string[];
  file: string;
  message: string;
}

function eventsIn(path: string, root: string): Found[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: Found[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node)) {
      let event: string | null = null;
      const fields: string[] = [];
      for (const p of node.properties) {
        const name =
          p.name !== undefined && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : null;
        if (name === null) continue;
        if (name === 'event' && ts.isPropertyAssignment(p) && ts.isStringLiteral(p.initializer))
          event = p.initializer.text;
        else if (!COMMON.has(name)) fields.push(name);
      }
      const call = node.parent;
      if (
        event !== null &&
        ts.isCallExpression(call) &&
        call.arguments[0] === node &&
        ts.isPropertyAccessExpression(call.expression)
      ) {
        const level = call.expression.name.text;
        const bound =
          path.includes(join('src', 'master')) && HANDLE_LOG.test(call.expression.expression.getText(file))
            ? WORKER_BOUND_FIELDS
            : [];
        const twice = fields.filter((f) => (bound as readonly string[]).includes(f));
        if (twice.length > 0) throw new Error(`${path}: ${event} writes ${twice.join(', ')}, which its logger binds`);
        if (LEVELS.has(level)) {
          found.push({
            event,
            level,
            fields: [...fields, ...bound],
            file: relative(root, path),
            message: messageText(call.arguments[1], file),
          });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** The events logged by the code under `dirs` (relative to `root`), sorted by name. */
export function logEvents(root: string, dirs: readonly string[]): LogEvent[] {
  const byName = new Map<string, { levels: Set<string>; fields: Set<string>; files: Set<string>; example: string }>();
  for (const dir of dirs) {
    for (const path of sourceFiles(join(root, dir))) {
      for (const f of eventsIn(path, root)) {
        const entry = byName.get(f.event) ?? {
          levels: new Set(),
          fields: new Set(),
          files: new Set(),
          example: f.message,
        };
        entry.levels.add(f.level);
        f.fields.forEach((x) => entry.fields.add(x));
        entry.files.add(f.file);
        byName.set(f.event, entry);
      }
    }
  }
  const order = [...LEVELS];
  return [...byName.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([event, e]) => ({
      event,
      levels: [...e.levels].sort((a, b) => order.indexOf(a) - order.indexOf(b)),
      fields: [...e.fields].sort(),
      files: [...e.files].sort(),
      example: e.example,
    }));
}
