import type { Operation, ServiceModel } from './model.js';

/**
 * Names the operation first: (method, raw path) -> operation and its URI
 * labels, before any authentication or I/O. Built from the model's
 * requestUri templates; templates with more literal segments win.
 */
export interface RouteMatch {
  operation: Operation;
  labels: Record<string, string>;
}

interface Route {
  operation: Operation;
  method: string;
  regex: RegExp;
  labels: string[];
  literals: number;
  first: string; // first path segment (every template starts with a literal)
}

const firstSegment = (path: string) => path.split('/', 2)[1] ?? '';

export class OmicsRouter {
  private readonly routes: Route[] = [];
  /** Routes by "METHOD /first-segment", to avoid scanning all 107 templates. */
  private readonly index = new Map<string, Route[]>();

  constructor(model: ServiceModel) {
    for (const op of Object.values(model.operations)) {
      const [path] = op.http.requestUri.split('?');
      const labels: string[] = [];
      let literals = 0;
      const pattern = path!
        .split('/')
        .map((seg) => {
          const m = /^\{([^}+]+)(\+)?\}$/.exec(seg);
          if (!m) {
            if (seg) literals++;
            return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          }
          labels.push(m[1]!);
          return m[2] ? '(.+)' : '([^/]+)';
        })
        .join('/');
      this.routes.push({ operation: op, method: op.http.method, regex: new RegExp(`^${pattern}$`), labels, literals, first: firstSegment(path!) });
    }
    this.routes.sort((a, b) => b.literals - a.literals);
    for (const r of this.routes) {
      const key = `${r.method} ${r.first}`;
      const list = this.index.get(key) ?? [];
      list.push(r);
      this.index.set(key, list);
    }
  }

  /** Matches a raw (percent-encoded) path. */
  match(method: string, rawPath: string): RouteMatch | undefined {
    for (const r of this.index.get(`${method} ${firstSegment(rawPath)}`) ?? []) {
      const m = r.regex.exec(rawPath);
      if (!m) continue;
      const labels: Record<string, string> = {};
      try {
        r.labels.forEach((name, i) => (labels[name] = decodeURIComponent(m[i + 1]!)));
      } catch {
        continue;
      }
      return { operation: r.operation, labels };
    }
    return undefined;
  }

  /** Whether any operation's template matches the path, whatever the method. */
  matchesAnyMethod(rawPath: string): boolean {
    return this.routes.some((r) => r.regex.test(rawPath));
  }
}
